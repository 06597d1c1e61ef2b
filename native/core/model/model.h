// A network with what travels with it (device, normalization, meta), shared between the JS object and whatever
// native work runs on it; the operations on it that run off the main thread. Plain C++.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../base/precision.h"
#include "../checkpoint/checkpoint.h"
#include "../data/dataset.h"
#include "../data/normalization.h"
#include "../nn/inference.h"
#include "../nn/resnet.h"
#include "evaluate.h"

namespace resnet_cifar {

struct ModelState {
  std::mutex mu;  // held by whichever thread runs the network
  ResNet net{nullptr};
  c10::Device device{c10::kCPU};
  std::atomic<bool> training{false};
  std::atomic<bool> fitting{false};            // a fit owns the weights until it settles
  std::atomic<bool> disposed{false};           // set by dispose(): a running fit stops at the next iteration
  std::optional<Normalization> normalization;  // what it was trained with (from its checkpoint or its last fit)
  Meta meta = NewMeta();                       // the user's meta of the checkpoint it came from (e.g. iteration)
  // Set (under mu) while a fit runs on its own CUDA stream (cuda_graph.h): orders the calling thread's stream after
  // the work the fit has queued, so that another thread reads whole steps' weights.
  std::function<void()> after_fit;
};

// The model's lock, for whoever runs or reads the network outside a fit; orders the caller's device work after a
// running fit's (after_fit).
class ModelLock {
 public:
  explicit ModelLock(ModelState& m) : lock_(m.mu) {
    if (m.after_fit) m.after_fit();
  }

 private:
  std::lock_guard<std::mutex> lock_;
};

// He-initialised (seeded when `seed` is given; torch's global generator is process-wide, so seeded constructions
// are serialized), in eval mode, on `device`.
std::shared_ptr<ModelState> NewModel(const ResNetOptions& options, c10::Device device, std::optional<uint64_t> seed);
// Fine-tuning: a new head for `num_classes` classes (seeded when `seed` is given), every other weight kept; the
// meta's class names are dropped.
void ResetClassifier(ModelState& m, int64_t num_classes, std::optional<uint64_t> seed);
// Our checkpoints, or a foreign state dict (layouts.h) in any format ReadWeights reads.
std::shared_ptr<ModelState> LoadModel(const std::string& path, c10::Device device,
                                      const std::string& shortcut_hint = "");

// Logits (float) of already-normalized NCHW images, in the model's current BN mode, without grad.
at::Tensor Predict(ModelState& m, const at::Tensor& images, Precision precision = Precision::kFp32);
// Eval-mode BN; the model's train/eval flag is left as it was.
EvalResult EvaluateModel(ModelState& m, const Dataset& data, int64_t batch, const Normalization& norm,
                         Precision precision = Precision::kFp32);
void SaveModel(ModelState& m, const std::string& path, const Meta& extra,
               const std::optional<Normalization>& normalization, WeightsFormat format = WeightsFormat::kCheckpoint);
// A state dict (or a training checkpoint holding one) of a layout layouts.h knows, into this model: every key is
// consumed and every shape checked before anything is copied.
void LoadStateDictFile(ModelState& m, const std::string& path);
// The state dict in our layout as float32 CPU copies: a snapshot that later training does not change (ONNX export).
std::vector<std::pair<std::string, at::Tensor>> StateDictSnapshot(ModelState& m);

}  // namespace resnet_cifar
