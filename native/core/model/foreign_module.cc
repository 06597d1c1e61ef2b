#include "foreign_module.h"

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <cstring>
#include <sstream>

#include "../base/cpu.h"
#include "../base/errors.h"
#include "../base/files.h"
#include "../codecs/zip_check.h"

namespace resnet_cifar {

// One image through the module: it must give [1, classes].
static void Probe(ForeignModule& m, const std::string& path, const char* what, const char* hint) {
  c10::NoGradGuard no_grad;
  at::Tensor probe;
  try {
    probe = m.run(at::zeros({1, 3, 32, 32}, at::TensorOptions().device(m.device)));
  } catch (const c10::Error& e) {
    const std::string msg = TorchMessage(e);
    throw std::runtime_error(path + ": the " + what + " does not accept a [1, 3, 32, 32] batch" + hint + ": " +
                             msg.substr(0, msg.find('\n')));
  }
  if (probe.dim() != 2 || probe.size(0) != 1) {
    std::ostringstream s;
    s << path << ": expected the " << what << " to map [1, 3, 32, 32] to [1, classes] logits but it gave "
      << probe.sizes();
    throw std::runtime_error(s.str());
  }
  m.num_classes = probe.size(1);
}

std::shared_ptr<ForeignModule> LoadTorchScript(const std::string& path, c10::Device device) {
  auto m = std::make_shared<ForeignModule>();
  m->device = device;
  std::vector<char> bytes = ReadFile(path);
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) VerifyZip(bytes, path);
  auto module = std::make_shared<torch::jit::Module>();
  try {
    std::istringstream in(std::string(bytes.data(), bytes.size()));
    *module = torch::jit::load(in, device);
  } catch (const c10::Error& e) {
    std::string msg = TorchMessage(e);
    const bool state_dict = msg.find("constants.pkl") != std::string::npos || msg.find("code/") != std::string::npos;
    throw std::runtime_error(
        path + " is not a TorchScript module (torch.jit.save of a scripted or traced model)" +
        (state_dict ? "; it looks like a torch.save file: open state dicts with ResNet.load" : std::string("")) + ": " +
        msg.substr(0, msg.find('\n')));
  }
  module->eval();
  m->keep = module;
  m->run = [module](const at::Tensor& x) {
    auto out = module->forward({x});
    if (!out.isTensor()) {
      throw std::runtime_error(
          std::string("Expected the TorchScript module to return a tensor of logits but it returned ") + out.tagKind());
    }
    return out.toTensor();
  };
  Probe(*m, path, "TorchScript module", "");
  return m;
}

std::shared_ptr<ForeignModule> LoadExported(const std::string& path, c10::Device device) {
  std::vector<char> bytes = ReadFile(path);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "PK\x03\x04", 4) != 0) {
    throw std::runtime_error(path +
                             " is not an AOTInductor package (torch._inductor.aoti_compile_and_package's .pt2 "
                             "is a zip archive; this file is not one)");
  }
  VerifyZip(bytes, path);
  // libtorch's loader opens a path: it gets a private copy of the bytes just checked, never the user's path again
  // (which could have changed since).
  const PrivateCopy copy(bytes, ".pt2");
  std::unordered_map<std::string, std::string> meta;
  try {
    meta = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(copy.path(), "model");
  } catch (const c10::Error& e) {
    const std::string msg = TorchMessage(e);
    throw std::runtime_error(path + " is not an AOTInductor package: " + msg.substr(0, msg.find('\n')));
  }
  auto it = meta.find("AOTI_DEVICE_KEY");
  const std::string compiled_for = it == meta.end() ? "cpu" : it->second;
  const std::string wanted = device.is_cpu() ? "cpu" : "cuda";
  if (compiled_for != wanted) {
    throw std::runtime_error(path + " was compiled for " + compiled_for + ", not " + wanted +
                             ": export it again for this device (aoti_compile_and_package on a " + wanted + " model)");
  }
  if (device.is_cpu()) {
    auto field = [&](const char* k) {
      auto f = meta.find(k);
      return f == meta.end() ? std::string() : f->second;
    };
    const std::string isa = field("AOTI_CPU_ISA");
    const std::string missing = MissingForCompiledCode(field("AOTI_MACHINE"), isa);
    if (!missing.empty()) {
      throw std::runtime_error(path + " was compiled for a CPU with " +
                               (isa.empty() ? "unnamed instruction sets" : isa) +
                               " (its AOTI_CPU_ISA) and cannot run on this one (" + CpuName() + "): " + missing +
                               ". Export it again on this CPU, or compile it for AVX2 (ATEN_CPU_CAPABILITY=avx2 when "
                               "calling aoti_compile_and_package), which every x86-64 CPU this library runs on has");
    }
  }
  auto m = std::make_shared<ForeignModule>();
  m->device = device;
  std::shared_ptr<torch::inductor::AOTIModelPackageLoader> loader;
  try {
    loader = std::make_shared<torch::inductor::AOTIModelPackageLoader>(
        copy.path(), "model", false, 1, device.is_cpu() ? static_cast<c10::DeviceIndex>(-1) : device.index());
  } catch (const c10::Error& e) {
    const std::string msg = TorchMessage(e);
    throw std::runtime_error(path + ": cannot load the AOTInductor package: " + msg.substr(0, msg.find('\n')));
  }
  m->keep = loader;
  m->run = [loader](const at::Tensor& x) {
    auto out = loader->run({x.contiguous()});
    if (out.empty()) throw std::runtime_error("the AOTInductor package returned no output");
    return out[0];
  };
  Probe(*m, path, "AOTInductor package", " (export it with a dynamic batch dimension: torch.export.Dim)");
  return m;
}

at::Tensor ForeignPredict(ForeignModule& m, const at::Tensor& images, Precision precision) {
  c10::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(m.mu);
  PrecisionScope scope(precision, m.device.type());
  return m.run(images.to(m.device)).to(at::kFloat);
}

EvalResult ForeignEvaluate(ForeignModule& m, const Dataset& data, int64_t batch, const Normalization& norm,
                           Precision precision) {
  std::lock_guard<std::mutex> lock(m.mu);
  return Evaluate(m.run, m.device, data, batch, norm, m.num_classes, precision);
}

}  // namespace resnet_cifar
