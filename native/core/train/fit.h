// The paper's training loop, plain C++: SGD with momentum and weight decay on a step schedule (sgd.h,
// lr_schedule.h), batches prepared one step ahead (batches.h), periodic evaluation, checkpoints with the trainer
// state (checkpoint.h) and exact resume; on CUDA the step is replayed as a CUDA graph (cuda_graph.h). It reports
// through FitObserver and runs on whatever thread calls Run(); the N-API layer (napi/fit.cc) gives it a thread and
// turns its reports into JS events.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../base/precision.h"
#include "../checkpoint/checkpoint.h"
#include "../data/batches.h"
#include "../data/dataset.h"
#include "../data/normalization.h"
#include "../model/evaluate.h"
#include "../model/model.h"
#include "cuda_graph.h"
#include "distributed.h"
#include "lr_schedule.h"
#include "sgd.h"

namespace resnet_cifar {

struct FitConfig {
  int64_t iterations = 64000;
  BatchOptions batches;  // batch size, seed, layout
  SgdOptions sgd;
  StepScheduleOptions schedule;
  int64_t report_every = 10;
  int64_t eval_every = 0;  // 0: evaluate only at the end (when an eval set is given)
  int64_t eval_batch = 500;
  std::string checkpoint_path;   // empty: no checkpoints
  int64_t checkpoint_every = 0;  // 0: only at the end / on abort
  bool resume = false;           // continue from checkpoint_path when it exists
  bool fused_bn = true;          // fused train-mode BN + ReLU kernels on the CPU (fused_bn.h)
  Precision precision = Precision::kFp32;
  bool step_only = false;  // benchmark: one fixed batch, no data work
  // On CUDA (not distributed): the step captured once as a CUDA graph after a few eager steps and replayed
  // (cuda_graph.h); the last, smaller batch of each epoch runs eagerly.
  bool cuda_graphs = true;
  NormKind normalization_kind = NormKind::kPixel;
  std::optional<Normalization> normalization;  // given statistics; else those of the training set
  Meta meta = NewMeta();                       // extra plain data for each checkpoint's meta
  // Data-parallel training (distributed.h): rank 0's weights are broadcast at the start, each rank trains on its
  // shard, gradients are averaged over the ranks each step, BatchNorm buffers follow rank 0's before each forward
  // (as DistributedDataParallel's broadcast_buffers), evaluation is split over the ranks, rank 0 writes checkpoints.
  std::optional<DistributedOptions> distributed;
  // Fine-tuning: stages (StageNames) that do not train, and learning-rate multiples of others (absent: 1).
  std::vector<std::string> freeze;
  std::vector<std::pair<std::string, double>> lr_scales;
};

class FitObserver {
 public:
  virtual ~FitObserver() = default;
  virtual void OnTrain(const TrainRecord& r, double elapsed_seconds) = 0;
  virtual void OnEval(int64_t iteration, const EvalResult& r) = 0;
  virtual void OnCheckpoint(int64_t iteration, const std::string& path) = 0;
};

// Why a fit ended: its last iteration, an abort (with a checkpoint), or a non-finite loss (no checkpoint).
enum class StopReason { kCompleted, kAborted, kNan };
// "completed", "aborted", "nan": the names JS sees (FitStop in lib/base/native.ts).
const char* StopName(StopReason r);

struct FitResult {
  int64_t iteration = 0, start_iteration = 0;
  StopReason stopped = StopReason::kCompleted;
  std::string error;       // empty on success
  std::string checkpoint;  // the checkpoint last written, if any
  double seconds = 0;
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
  std::optional<Normalization> normalization;  // what the run trained with
  std::vector<std::string> notes;              // what a user should know (e.g. resumed at another precision)
};

class FitLoop {
 public:
  FitLoop(std::shared_ptr<ModelState> model, std::shared_ptr<const Dataset> train, std::shared_ptr<const Dataset> eval,
          FitConfig config, FitObserver& observer);

  // Trains until the last iteration, an abort, a non-finite loss or an error; never throws (errors land in
  // FitResult::error). The model's layout, kernels and train/eval flag are restored at the end.
  FitResult Run();
  // Stops after the current iteration (a checkpoint is written). Safe from any thread.
  void Abort() { abort_ = true; }

 private:
  // The tensors a training step leaves: its loss, correct count and (distributed) {stop, loss} control sums.
  struct StepOut {
    at::Tensor loss, correct, control;
  };

  void Prepare();
  // The training loop, in named steps: TrainStep, LossIsFinite, Report, EvaluateAndCheckpoint, Finish.
  void Loop();
  // One step on batch `b`: eager, or the captured CUDA graph replayed (captured at the first full batch after the
  // warm-up).
  void TrainStep(const Batch& b, int64_t it, double lr, bool graphs, StepOut& out);
  // False (with the error and StopReason::kNan set) when the step's loss is NaN or infinite.
  bool LossIsFinite(int64_t done, double lr, const StepOut& out);
  // A report window ends: its loss, error and images/s (over every rank) go to the observer.
  void Report(int64_t done, double lr, double per_epoch);
  // The periodic evaluation and checkpoint, their time kept out of the window's images/s.
  void EvaluateAndCheckpoint(int64_t done);
  // The last checkpoint; the model takes the run's normalization and iteration (not after a NaN).
  void Finish();
  // One training step. `lr_tensor` (when defined) holds the rate on the device, for a captured step.
  void Step(const at::Tensor& x, const at::Tensor& y, double lr, const at::Tensor& lr_tensor, at::Tensor& loss,
            at::Tensor& correct, at::Tensor& control);
  void Evaluate();
  void WriteCheckpoint();
  void Resume();
  void SetLayout(bool channels_last);
  void Restore();
  void MakeSgd();
  void SyncWindow();
  TrainerState State() const;
  // The meta of the network this fit trains: the model's, less what described its weights before the fit (a shipped
  // network's record and its test error), with the fit's own and the iteration.
  Meta TrainedMeta() const;
  // Distributed: every rank takes rank 0's weights, buffers, normalization and (resumed) trainer state.
  void TakeLeaderState(bool resumed);
  // Distributed: averages the gradients over the ranks; `control` ({stop, loss}) is summed alongside.
  void AverageGradients(at::Tensor& control);
  std::string Fingerprint() const;
  bool Leader() const { return !comm_ || comm_->rank() == 0; }

  std::shared_ptr<ModelState> model_;
  std::shared_ptr<const Dataset> train_, eval_;
  FitConfig cfg_;
  FitObserver& observer_;
  std::atomic<bool> abort_{false};

  Normalization norm_;
  StepSchedule schedule_;
  std::unique_ptr<Sgd> sgd_;
  std::vector<std::string> sgd_names_;  // the parameters SGD trains (all but the frozen stages'), in its order
  std::unique_ptr<Communicator> comm_;
  FitResult result_;
  TrainerState::Window window_;
  at::Tensor win_loss_, win_correct_;  // the window's sums on the device: no per-step host sync on CUDA
  int64_t win_images_ = 0;             // images of this window on this rank
  double win_t0_ = 0;                  // when the window's training time began
  std::unique_ptr<GraphStep> graph_;   // the captured step (CUDA graphs)
  double t0_ = 0;
};

}  // namespace resnet_cifar
