#include "state_dict.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace resnet_cifar {

c10::Dict<std::string, at::Tensor> StateDict(const ResNet& net) {
  c10::Dict<std::string, at::Tensor> out;
  for (const auto& p : net->named_parameters(true))
    out.insert(p.key(), p.value().detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous));
  for (const auto& b : net->named_buffers(true))
    out.insert(b.key(), b.value().detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous));
  return out;
}

static std::string ShapeStr(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void ApplyStateDict(ResNet& net, const c10::IValue& value, const std::string& source) {
  if (!value.isGenericDict()) {
    throw std::runtime_error(source + " does not hold a state dict (expected a dict of name -> tensor, got " +
                             value.tagKind() + ")");
  }
  std::map<std::string, at::Tensor> file;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString()) throw std::runtime_error(source + " does not hold a state dict (a key is not a string)");
    if (!kv.value().isTensor()) {
      throw std::runtime_error(source + " does not hold a state dict: '" + kv.key().toStringRef() + "' is a " +
                               kv.value().tagKind() + ", not a tensor");
    }
    file.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  if (file.empty()) throw std::runtime_error(source + " holds an empty dict, not a state dict");
  bool all_module = true;
  for (const auto& kv : file) all_module = all_module && kv.first.rfind("module.", 0) == 0;
  if (all_module) {
    std::map<std::string, at::Tensor> stripped;
    for (auto& kv : file) stripped.emplace(kv.first.substr(7), kv.second);
    file.swap(stripped);
  }
  const std::string what = DescribeModel(net->options);
  // Fold conv biases into the following BN: BN(conv(x) + b) == BN'(conv(x)) with running_mean' = running_mean - b.
  for (const auto& [conv, bn] : net->ConvBnPairs()) {
    auto bias = file.find(conv + ".bias");
    auto mean = file.find(bn + ".running_mean");
    if (bias == file.end()) continue;
    if (mean == file.end() || bias->second.sizes() != mean->second.sizes()) {
      throw std::runtime_error(source + " does not match " + what + ": cannot fold '" + conv + ".bias' into '" + bn +
                               ".running_mean'");
    }
    mean->second = mean->second.to(torch::kFloat) - bias->second.to(torch::kFloat);
    file.erase(bias);
  }
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& p : net->named_parameters(true)) targets.emplace_back(p.key(), p.value());
  for (const auto& b : net->named_buffers(true)) targets.emplace_back(b.key(), b.value());
  for (const auto& [name, t] : targets) {
    auto it = file.find(name);
    if (it == file.end()) {
      throw std::runtime_error(source + " does not match " + what + ": missing key '" + name + "' (shape " +
                               ShapeStr(t) + ")");
    }
    if (it->second.sizes() != t.sizes()) {
      throw std::runtime_error(source + " does not match " + what + ": key '" + name + "' has shape " +
                               ShapeStr(it->second) + " in the file but " + ShapeStr(t) + " in the model");
    }
  }
  std::map<std::string, bool> known;
  for (const auto& kv : targets) known[kv.first] = true;
  for (const auto& kv : file) {
    if (!known.count(kv.first)) {
      throw std::runtime_error(source + " does not match " + what + ": unexpected key '" + kv.first + "' (shape " +
                               ShapeStr(kv.second) + ")");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : targets) t.copy_(file.at(name));
}

}  // namespace resnet_cifar
