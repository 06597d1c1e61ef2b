#include "model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/utils.h>

#include "../base/files.h"
#include "../nn/state_dict.h"

namespace resnet_cifar {

static std::mutex g_seed_mu;  // torch::manual_seed is process-wide

std::shared_ptr<ModelState> NewModel(const ResNetOptions& options, c10::Device device, std::optional<uint64_t> seed) {
  auto state = std::make_shared<ModelState>();
  state->device = device;
  {
    std::unique_lock<std::mutex> seed_lock(g_seed_mu, std::defer_lock);
    if (seed) {
      seed_lock.lock();
      torch::manual_seed(*seed);
    }
    state->net = ResNet(options);
    InitWeights(state->net);
  }
  state->net->to(device);
  state->net->eval();
  return state;
}

void ResetClassifier(ModelState& m, int64_t num_classes, std::optional<uint64_t> seed) {
  if (m.fitting.load()) throw std::runtime_error("Cannot replace the head while a fit is running");
  ModelLock lock(m);
  {
    std::unique_lock<std::mutex> seed_lock(g_seed_mu, std::defer_lock);
    if (seed) {
      seed_lock.lock();
      torch::manual_seed(*seed);
    }
    m.net->ReplaceHead(num_classes);
  }
  // The old head's class names no longer name these outputs.
  (void)m.meta.erase(std::string("class_names"));
}

std::shared_ptr<ModelState> LoadModel(const std::string& path, c10::Device device, const std::string& shortcut_hint) {
  Checkpoint ck = ReadWeights(path, shortcut_hint);
  auto state = std::make_shared<ModelState>();
  state->device = device;
  ResNet net(ck.options);
  ApplyStateDict(net, ck.state_dict, path);
  net->to(device);
  net->eval();
  state->net = net;
  state->normalization = ck.normalization;
  state->meta = ck.meta;
  return state;
}

// Eval mode on the CPU runs the network folded (inference.h) for a batch of at least this many images, and always in
// evaluate: folding costs about as much as a few images' forward pass, so below it the module's forward runs.
constexpr int64_t kFoldMinBatch = 16;
static bool UsesFolded(const ModelState& m) { return m.device.is_cpu(); }

at::Tensor Predict(ModelState& m, const at::Tensor& images, Precision precision) {
  c10::NoGradGuard no_grad;
  ModelLock lock(m);
  const bool training = m.training.load();
  if (!training && UsesFolded(m) && images.dim() == 4 && images.size(0) >= kFoldMinBatch) {
    const auto folded = Fold(*m.net);
    PrecisionScope scope(precision, m.device.type());
    return FoldedForward(*folded, images).to(at::kFloat);
  }
  m.net->train(training);
  PrecisionScope scope(precision, m.device.type());
  return m.net->forward(images.to(m.device)).to(at::kFloat);
}

EvalResult EvaluateModel(ModelState& m, const Dataset& data, int64_t batch, const Normalization& norm,
                         Precision precision) {
  ModelLock lock(m);
  auto net = m.net;
  net->eval();
  EvalResult r;
  try {
    if (UsesFolded(m)) {
      const auto folded = Fold(*m.net);
      r = Evaluate([&](const at::Tensor& x) { return FoldedForward(*folded, x); }, m.device, data, batch, norm,
                   net->options.num_classes(), precision);
    } else {
      r = Evaluate([&](const at::Tensor& x) { return net->forward(x); }, m.device, data, batch, norm,
                   net->options.num_classes(), precision);
    }
  } catch (...) {
    net->train(m.training.load());
    throw;
  }
  net->train(m.training.load());
  return r;
}

void SaveModel(ModelState& m, const std::string& path, const Meta& extra,
               const std::optional<Normalization>& normalization, WeightsFormat format) {
  std::vector<char> bytes;
  {
    ModelLock lock(m);
    Meta meta = m.meta.copy();
    for (const auto& kv : extra) meta.insert_or_assign(kv.key(), kv.value());
    bytes = WeightsBytes(m.net, format, meta, normalization ? normalization : m.normalization);
  }
  WriteFileAtomic(path, bytes);
}

std::vector<std::pair<std::string, at::Tensor>> StateDictSnapshot(ModelState& m) {
  ModelLock lock(m);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& kv : StateDict(m.net)) {
    out.emplace_back(kv.key(), kv.value().detach().to(at::kCPU, at::kFloat).contiguous().clone());
  }
  return out;
}

void LoadStateDictFile(ModelState& m, const std::string& path) {
  Checkpoint w = ReadWeights(path, ShortcutName(m.net->options.shortcut()));
  ModelLock lock(m);
  ApplyStateDict(m.net, w.state_dict, path);
}

}  // namespace resnet_cifar
