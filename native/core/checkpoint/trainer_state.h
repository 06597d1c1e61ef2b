// The trainer state a fit stores in its checkpoint (everything besides the weights that an exact resume needs), and
// its schema as plain data: {"version", "iteration", "iterations", "seed", "batch_size", "train_size", "rng",
// "warmup_done", "precision", "world_size", "window": {...}, "momentum": {name: tensor}, "history": {...}}.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../base/precision.h"
#include "meta_json.h"

namespace resnet_cifar {

constexpr int64_t kTrainerStateVersion = 1;

// One report window of training: the mean loss and error of the iterations since the last report.
struct TrainRecord {
  double iteration, epoch, lr, loss, error, images_per_second;
};
struct EvalRecord {
  double iteration, error, loss;
};

// Everything besides the weights that an exact resume needs.
struct TrainerState {
  int64_t iteration = 0;
  int64_t iterations = 0;
  uint64_t seed = 0;
  int64_t batch_size = 0;
  int64_t train_size = 0;
  bool warmup_done = false;
  Precision precision = Precision::kFp32;  // what the run trained at (weights are float32 either way)
  int64_t world_size = 1;                  // ranks of a data-parallel run (its batch_size is per rank)
  struct Window {
    double loss = 0;  // sum of loss * batch size
    int64_t correct = 0, count = 0, start = 0;
  } window;
  std::vector<std::pair<std::string, at::Tensor>> momentum;  // by parameter name; empty before the first step
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
};

// The state as plain data (the checkpoint's "trainer" entry), and back; errors name `path` and the key.
Meta TrainerDict(const TrainerState& s);
TrainerState ReadTrainerState(const c10::IValue& v, const std::string& path);

}  // namespace resnet_cifar
