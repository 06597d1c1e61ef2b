#include "script_module.h"

#include <cstring>
#include <sstream>

#include "errors.h"
#include "files.h"
#include "zip_check.h"

namespace resnet_cifar {

static at::Tensor ScriptForward(ScriptState& s, const at::Tensor& x) {
  auto out = s.module.forward({x});
  if (!out.isTensor()) {
    throw std::runtime_error(std::string("Expected the TorchScript module to return a tensor of logits but it returned ") +
                             out.tagKind());
  }
  return out.toTensor();
}

std::shared_ptr<ScriptState> LoadScriptModule(const std::string& path, c10::Device device) {
  auto state = std::make_shared<ScriptState>();
  state->device = device;
  std::vector<char> bytes = ReadFile(path);
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) VerifyZip(bytes, path);
  try {
    std::istringstream in(std::string(bytes.data(), bytes.size()));
    state->module = torch::jit::load(in, device);
  } catch (const c10::Error& e) {
    std::string m = TorchMessage(e);
    const bool state_dict = m.find("constants.pkl") != std::string::npos || m.find("code/") != std::string::npos;
    throw std::runtime_error(path + " is not a TorchScript module (torch.jit.save of a scripted or traced model)" +
                             (state_dict ? "; it looks like a torch.save file: load state dicts with ResNet.loadStateDict"
                                         : std::string("")) +
                             ": " + m.substr(0, m.find('\n')));
  }
  state->module.eval();
  torch::NoGradGuard no_grad;
  at::Tensor probe;
  try {
    probe = ScriptForward(*state, torch::zeros({1, 3, 32, 32}, torch::TensorOptions().device(device)));
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": the TorchScript module does not accept a [N, 3, 32, 32] batch: " +
                             TorchMessage(e).substr(0, TorchMessage(e).find('\n')));
  }
  if (probe.dim() != 2 || probe.size(0) != 1) {
    std::ostringstream s;
    s << path << ": expected the TorchScript module to map [1, 3, 32, 32] to [1, classes] logits but it gave "
      << probe.sizes();
    throw std::runtime_error(s.str());
  }
  state->num_classes = probe.size(1);
  return state;
}

at::Tensor ScriptPredict(ScriptState& s, const at::Tensor& images, Precision precision) {
  torch::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(s.mu);
  PrecisionScope scope(precision, s.device.type());
  return ScriptForward(s, images.to(s.device)).to(at::kFloat);
}

EvalResult ScriptEvaluate(ScriptState& s, const Dataset& data, int64_t batch, const Normalization& norm,
                          Precision precision) {
  std::lock_guard<std::mutex> lock(s.mu);
  return Evaluate([&](const at::Tensor& x) { return ScriptForward(s, x); }, s.device, data, batch, norm, s.num_classes,
                  precision);
}

}  // namespace resnet_cifar
