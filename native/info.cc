// info(), thread settings, and device / argument helpers shared by the other operations.
#include <dlfcn.h>
#include <torch/torch.h>

#include "addon.h"
#include "common.h"
#include "fused_bn.h"

namespace resnet_cifar {

static std::string LibraryOf(const void* symbol) {
  Dl_info di;
  if (dladdr(symbol, &di) && di.dli_fname) return di.dli_fname;
  return "";
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto o = Napi::Object::New(env);
    o.Set("version", TORCH_VERSION);
#ifdef RESNET_CIFAR_CUDA
    o.Set("cuda", true);
#else
    o.Set("cuda", false);
#endif
    o.Set("cudaAvailable", torch::cuda::is_available());
    o.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
    o.Set("cudnnAvailable", torch::cuda::cudnn_is_available());
    o.Set("threads", static_cast<double>(at::get_num_threads()));
    o.Set("interopThreads", static_cast<double>(at::get_num_interop_threads()));
    o.Set("fusedKernels", FusedKernelThreading());
    auto libs = Napi::Object::New(env);
    libs.Set("c10", LibraryOf(reinterpret_cast<const void*>(&c10::GetAllocator)));
    libs.Set("torch_cpu", LibraryOf(reinterpret_cast<const void*>(&at::get_num_threads)));
    libs.Set("addon", LibraryOf(reinterpret_cast<const void*>(&Info)));
    o.Set("libraries", libs);
#ifdef RESNET_CIFAR_GYP
    o.Set("build", "node-gyp");
#else
    o.Set("build", "cmake-js");
#endif
    return o;
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    int64_t n = ArgInt(info, 0, "setNumThreads: threads");
    if (n < 1 || n > 1024) throw RangeErrorEx("Expected threads between 1 and 1024 but received " + std::to_string(n));
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

std::string DeviceName(const torch::Device& d) {
  if (d.is_cpu()) return "cpu";
  return d.str();
}

torch::Device ResolveDevice(const std::string& spec) {
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int64_t index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw RangeErrorEx("Expected device 'auto', 'cpu', 'cuda' or 'cuda:N' but received '" + spec + "'");
      }
      index = std::stoll(digits);
    }
#ifndef RESNET_CIFAR_CUDA
    throw std::runtime_error("Device '" + spec + "' requested, but this build links a CPU-only libtorch (" +
                             std::string(TORCH_VERSION) + "); rebuild against a CUDA libtorch (LIBTORCH=...)");
#else
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (count == 0) throw std::runtime_error("Device '" + spec + "' requested, but no CUDA device is visible");
    if (index >= count) {
      throw RangeErrorEx("Device '" + spec + "' requested, but only " + std::to_string(count) +
                         " CUDA device(s) are visible");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
#endif
  }
  throw RangeErrorEx("Expected device 'auto', 'cpu', 'cuda' or 'cuda:N' but received '" + spec + "'");
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw TypeErrorEx(std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw TypeErrorEx(std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
    throw RangeErrorEx(std::string(what) + " must be an integer");
  }
  return static_cast<int64_t>(d);
}

}  // namespace resnet_cifar
