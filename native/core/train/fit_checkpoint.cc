// FitLoop's checkpoints: the trainer state it stores, writing it, and resuming from it (fit.h; the format is
// checkpoint/checkpoint.h).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "../base/files.h"
#include "../nn/state_dict.h"
#include "fit.h"

namespace resnet_cifar {

// Caller holds model_->mu. Weights, momentum, iteration, warm-up and window state, history and the normalization
// the run started with.
void FitLoop::Resume() {
  const std::string& path = cfg_.checkpoint_path;
  Checkpoint ck = ReadCheckpoint(path);
  CheckResumable(path, ck, model_->net->options, cfg_.batches.seed, cfg_.batches.batch, train_->size(),
                 cfg_.batches.world_size);
  ApplyStateDict(model_->net, ck.state_dict, path);
  const TrainerState& t = *ck.trainer;
  result_.iteration = result_.start_iteration = t.iteration;
  schedule_.set_warmup_done(t.warmup_done);
  window_ = t.window;
  result_.train = t.train;
  result_.eval = t.eval;
  norm_ = *ck.normalization;
  if (t.precision != cfg_.precision) {
    result_.notes.push_back(std::string("resumed from a checkpoint trained in ") + PrecisionName(t.precision) +
                            "; this fit continues in " + PrecisionName(cfg_.precision) +
                            " (the weights and optimizer state are float32 in both)");
  }
  if (!t.momentum.empty()) {
    std::vector<at::Tensor> buffers;
    const auto named = model_->net->named_parameters(true);
    for (const auto& name : sgd_names_) {
      const at::Tensor& p = named[name];
      auto it = std::find_if(t.momentum.begin(), t.momentum.end(), [&](const auto& kv) { return kv.first == name; });
      if (it == t.momentum.end() || it->second.sizes() != p.sizes()) {
        throw std::runtime_error("Cannot resume from " + path + ": momentum buffer of '" + name +
                                 "' is missing or mis-shaped");
      }
      buffers.push_back(it->second.to(model_->device).contiguous(p.suggest_memory_format()));
    }
    sgd_->set_momentum(std::move(buffers));
  }
}

TrainerState FitLoop::State() const {
  TrainerState t;
  t.iteration = result_.iteration;
  t.iterations = cfg_.iterations;
  t.seed = cfg_.batches.seed;
  t.batch_size = cfg_.batches.batch;
  t.train_size = train_->size();
  t.warmup_done = schedule_.warmup_done();
  t.precision = cfg_.precision;
  t.world_size = cfg_.batches.world_size;
  t.window = window_;
  const auto& mom = sgd_->momentum();
  if (!mom.empty()) {
    for (size_t i = 0; i < sgd_names_.size() && i < mom.size(); ++i) t.momentum.emplace_back(sgd_names_[i], mom[i]);
  }
  t.train = result_.train;
  t.eval = result_.eval;
  return t;
}

// Meta keys that describe the weights a fit starts from (a shipped network's record, a measured test error): after
// a fit they would describe another network.
constexpr const char* kStartingWeightsMeta[] = {"pretrained", "testError"};

Meta FitLoop::TrainedMeta() const {
  Meta meta = model_->meta.copy();
  for (const char* key : kStartingWeightsMeta) (void)meta.erase(std::string(key));
  for (const auto& kv : cfg_.meta) meta.insert_or_assign(kv.key(), kv.value());
  meta.insert_or_assign(std::string("iteration"), result_.iteration);
  return meta;
}

// Caller holds model_->mu. Distributed, rank 0 writes (the others hold the same weights and momentum).
void FitLoop::WriteCheckpoint() {
  if (cfg_.checkpoint_path.empty() || !Leader()) return;
  SyncWindow();
  TrainerState state = State();
  WriteFileAtomic(cfg_.checkpoint_path, CheckpointBytes(model_->net, TrainedMeta(), norm_, &state));
  result_.checkpoint = cfg_.checkpoint_path;
  observer_.OnCheckpoint(result_.iteration, cfg_.checkpoint_path);
}

}  // namespace resnet_cifar
