// The paper's training loop on a native thread: SGD with momentum and weight decay, step schedule, warm-up,
// batch augmentation prepared one step ahead, periodic evaluation and checkpoints, exact resume.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "dataset.h"

namespace resnet_cifar {

struct TrainConfig {
  int64_t iterations = 64000;
  int64_t batch = 128;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  std::vector<int64_t> milestones{32000, 48000};
  double gamma = 0.1;
  double warmup_lr = 0;              // used while warm-up lasts
  int64_t warmup_iterations = 0;     // warm-up ends here (0: no fixed end)
  double warmup_until_error = -1;    // or when a report window's train error (%) falls below this (-1: unused)
  uint64_t seed = 0;
  int64_t report_every = 10;
  int64_t eval_every = 0;            // 0: evaluate only at the end (when an eval set is given)
  int64_t eval_batch = 500;
  std::string checkpoint_dir;        // empty: no checkpoints
  int64_t checkpoint_every = 0;      // 0: only at the end / on abort
  bool resume = false;
  bool channels_last = true;
  bool fused_bn = true;  // fused train-mode BN + ReLU kernels on the CPU (fused_bn.h)
  bool step_only = false;            // benchmark: one fixed batch, no data work
  bool generic_batch = false;        // CPU too: the torch-ops batch path CUDA uses (tests compare the two)
  std::string norm_kind;             // 'pixel' | 'channel'
  Normalization norm;
  c10::impl::GenericDict extra_meta{c10::StringType::get(), c10::AnyType::get()};
};

// fit(model, train, eval | null, options, onEvent) -> { promise, abort() }
Napi::Value Fit(const Napi::CallbackInfo& info);
// stopAllFits(): aborts every running fit and waits for its thread (process exit; synchronous).
Napi::Value StopAllFits(const Napi::CallbackInfo& info);
// trainingBatch(dataset, options, iteration): the augmented batch a fit would train on at that iteration.
Napi::Value TrainingBatch(const Napi::CallbackInfo& info);

// The file a fit with `dir` reads on resume and writes at every checkpoint.
std::string CheckpointPath(const std::string& dir);

}  // namespace resnet_cifar
