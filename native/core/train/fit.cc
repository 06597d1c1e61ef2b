#include "fit.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/nn/functional/loss.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "../base/errors.h"
#include "../base/files.h"
#include "../nn/state_dict.h"

namespace resnet_cifar {

using Clock = std::chrono::steady_clock;

static double Now() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

// glibc returns every large block (activations, gradients) to the kernel with munmap and page-faults it back in on
// the next step; keeping them in the heap is worth 5-8 % of a CPU training step. Applied once, at the first fit;
// RESNET_CIFAR_MALLOC_TUNING=0 leaves the allocator alone.
static void TuneAllocator() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    const char* e = std::getenv("RESNET_CIFAR_MALLOC_TUNING");
    if (e && std::string(e) == "0") return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
  });
#endif
}

namespace {

// The fit's CUDA side stream, made known to the model's other users (ModelLock) while it lives.
class FitStream {
 public:
  FitStream(ModelState& m, c10::Device device) : m_(m), side_(std::make_unique<SideStream>(device)) {
    std::lock_guard<std::mutex> lock(m_.mu);
    m_.after_fit = [s = side_.get()] { s->OrderAfter(); };
  }
  ~FitStream() {
    {
      std::lock_guard<std::mutex> lock(m_.mu);
      m_.after_fit = nullptr;
    }
    side_.reset();
  }

 private:
  ModelState& m_;
  std::unique_ptr<SideStream> side_;
};

}  // namespace

const char* StopName(StopReason r) {
  switch (r) {
    case StopReason::kCompleted: return "completed";
    case StopReason::kAborted: return "aborted";
    case StopReason::kNan: return "nan";
  }
  return "completed";
}

FitLoop::FitLoop(std::shared_ptr<ModelState> model, std::shared_ptr<const Dataset> train,
                 std::shared_ptr<const Dataset> eval, FitConfig config, FitObserver& observer)
    : model_(std::move(model)),
      train_(std::move(train)),
      eval_(std::move(eval)),
      cfg_(std::move(config)),
      observer_(observer),
      schedule_(cfg_.schedule) {}

FitResult FitLoop::Run() {
  t0_ = Now();
  try {
    TuneAllocator();
    Prepare();
    Loop();
  } catch (const c10::Error& e) {
    result_.error = TorchMessage(e);
  } catch (const std::exception& e) {
    result_.error = e.what();
  } catch (...) {
    result_.error = "resnet-cifar: unknown native error during training";
  }
  {
    std::lock_guard<std::mutex> lock(model_->mu);
    Restore();
  }
  result_.seconds = Now() - t0_;
  return result_;
}

void FitLoop::Prepare() {
  if (cfg_.distributed) {
    // Before taking the model: joining waits for every rank.
    cfg_.batches.rank = cfg_.distributed->rank;
    cfg_.batches.world_size = cfg_.distributed->world_size;
    cfg_.distributed->device = model_->device;
    comm_ = Connect(*cfg_.distributed);
    comm_->CheckSame("settings", Fingerprint());
  }
  if (!cfg_.checkpoint_path.empty() && Leader()) RemoveStaleTemps(cfg_.checkpoint_path);
  std::lock_guard<std::mutex> lock(model_->mu);
  MakeSgd();
  bool resumed = false;
  if (Leader() && cfg_.resume && FileExists(cfg_.checkpoint_path)) {
    Resume();
    resumed = true;
  } else {
    norm_ = cfg_.normalization ? *cfg_.normalization : train_->Statistics(cfg_.normalization_kind);
  }
  if (comm_) TakeLeaderState(resumed);
  result_.normalization = norm_;
  if (cfg_.batches.channels_last) SetLayout(true);
  // cuDNN times its algorithms for each new shape once and keeps the fastest (process-wide, as
  // torch.backends.cudnn.benchmark).
  if (model_->device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  model_->net->SetFusedBatchNorm(cfg_.fused_bn);
  if (comm_ && cfg_.distributed->sync_batch_norm) {
    Communicator* comm = comm_.get();
    model_->net->SetBatchNormSync(std::make_shared<const AllReduceSum>([comm](at::Tensor& t) {
      std::vector<at::Tensor> one{t};
      comm->AllReduceSum(one);
    }));
  }
}

// RESNET_CIFAR_PROFILE=FILE: libtorch's profiler over 5 steps (after 3 of warm-up), as a Chrome trace in FILE.
class StepProfiler {
 public:
  StepProfiler() : file_(std::getenv("RESNET_CIFAR_PROFILE")) {}
  // Called before the k-th step of this fit.
  void Before(int64_t k) {
    if (!file_ || !*file_) return;
    if (k == 3) profile_ = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(file_));
    if (k == 8) profile_.reset();
  }

 private:
  const char* file_;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile_;
};

// CUDA graphs: the step is captured after this many eager steps (cuDNN's algorithm search, SGD's momentum buffers
// and the allocator's blocks settle first).
constexpr int64_t kGraphWarmup = 3;

void FitLoop::Loop() {
  const auto dev = model_->device;
  BatchMaker maker(*train_, norm_, cfg_.batches, dev);
  // CUDA graphs: the loop's work goes to a side stream (a graph cannot be captured on the default one), batches
  // are made on this thread (their kernels queue ahead of the GPU).
  const bool graphs = cfg_.cuda_graphs && dev.is_cuda() && !comm_ && CudaGraphsBuilt();
  std::optional<FitStream> stream;
  if (graphs) stream.emplace(*model_, dev);
  std::unique_ptr<Prefetcher> prefetch;
  Batch fixed;
  if (cfg_.step_only) {
    fixed = maker.Make(0);
  } else if (result_.iteration < cfg_.iterations && !dev.is_cpu() && !graphs) {
    // A device step leaves the CPU idle: batch k+1 is made on a thread while step k runs. On the CPU libtorch's
    // threads already take every core, and a third thread preempting one of them stalls each parallel region at
    // its barrier: making the batch between steps (about 1 ms) measured 0.98-1.02 of the step-only speed against
    // 0.75-0.92 with the thread (2-core AMD EPYC, ResNet-20, fp32 and bf16).
    prefetch = std::make_unique<Prefetcher>(maker);
    prefetch->Request(result_.iteration);
  }
  win_loss_ = at::full({}, window_.loss, at::TensorOptions().dtype(at::kDouble).device(dev));
  win_correct_ = at::full({}, window_.correct, at::TensorOptions().dtype(at::kLong).device(dev));
  win_t0_ = Now();
  win_images_ = 0;
  StepProfiler profiler;
  std::vector<at::Tensor> buffers;  // BatchNorm running statistics, which follow rank 0's (distributed)
  for (const auto& b : model_->net->buffers()) buffers.push_back(b);
  while (result_.iteration < cfg_.iterations) {
    profiler.Before(result_.iteration - result_.start_iteration);
    // Alone, an abort stops here; distributed, it travels with the step's gradients so every rank stops together.
    if (!comm_ && (abort_.load() || model_->disposed.load())) {
      result_.stopped = StopReason::kAborted;
      break;
    }
    const int64_t it = result_.iteration;
    Batch b = cfg_.step_only ? fixed : prefetch ? prefetch->Take(it) : maker.Make(it);
    if (prefetch && it + 1 < cfg_.iterations) prefetch->Request(it + 1);
    const double lr = schedule_.At(it);
    StepOut out;
    std::unique_lock<std::mutex> lock(model_->mu);
    if (comm_) comm_->Broadcast(buffers);
    TrainStep(b, it, lr, graphs, out);
    const int64_t done = it + 1;
    const bool report = done % cfg_.report_every == 0 || done == cfg_.iterations;
    // On the CPU reading the loss costs nothing, so it is checked every step; on CUDA at report points. Distributed,
    // the sum of every rank's loss was reduced with the gradients: one rank's NaN stops them all.
    if ((dev.is_cpu() || report || comm_) && !LossIsFinite(done, lr, out)) break;
    win_loss_.add_(out.loss.to(at::kDouble) * static_cast<double>(b.y.size(0)));
    win_correct_.add_(out.correct);
    window_.count += b.y.size(0);
    win_images_ += b.y.size(0);
    result_.iteration = done;
    const bool stop_all = comm_ && out.control[0].item<float>() > 0;
    if (report) Report(done, lr, maker.PerEpoch());
    EvaluateAndCheckpoint(done);
    if (stop_all) {
      result_.stopped = StopReason::kAborted;
      break;
    }
  }
  prefetch.reset();
  graph_.reset();
  stream.reset();
  Finish();
}

void FitLoop::TrainStep(const Batch& b, int64_t it, double lr, bool graphs, StepOut& out) {
  // The graph's shapes are a full batch's: the smaller last batch of an epoch runs eagerly between replays.
  const bool full = b.y.size(0) == cfg_.batches.batch;
  if (!(graphs && full && it - result_.start_iteration >= kGraphWarmup)) {
    Step(b.x, b.y, lr, at::Tensor(), out.loss, out.correct, out.control);
    return;
  }
  if (!graph_) {
    graph_ = std::make_unique<GraphStep>(
        b.x, b.y, [this](const at::Tensor& x, const at::Tensor& y, const at::Tensor& r, at::Tensor& l, at::Tensor& c) {
          at::Tensor unused;
          Step(x, y, 0, r, l, c, unused);
        });
    result_.notes.push_back("CUDA graph: the training step was captured at iteration " + std::to_string(it + 1) +
                            " and replayed from there");
  }
  graph_->Replay(b.x, b.y, lr, out.loss, out.correct);
}

bool FitLoop::LossIsFinite(int64_t done, double lr, const StepOut& out) {
  const double loss = comm_ ? out.control[1].item<double>() : out.loss.item<double>();
  if (std::isfinite(loss)) return true;
  result_.error =
      "Training stopped at iteration " + std::to_string(done) + ": the loss is " +
      (std::isnan(loss) ? "NaN" : "infinite") + " (lr " + std::to_string(lr) + ")." +
      (cfg_.checkpoint_path.empty() ? std::string(" No checkpoint directory was set.")
                                    : " The last good checkpoint is kept at " + cfg_.checkpoint_path +
                                          (result_.checkpoint.empty() ? " (if one was written before)." : "."));
  result_.stopped = StopReason::kNan;
  return false;
}

void FitLoop::Report(int64_t done, double lr, double per_epoch) {
  SyncWindow();
  if (comm_) {  // the window over every rank's images
    std::vector<at::Tensor> w{at::tensor({window_.loss}, at::kDouble),
                              at::tensor({window_.correct, window_.count, win_images_}, at::kLong)};
    comm_->AllReduceSum(w);
    window_.loss = w[0].item<double>();
    window_.correct = w[1][0].item<int64_t>();
    window_.count = w[1][1].item<int64_t>();
    win_images_ = w[1][2].item<int64_t>();
    comm_->Heartbeat(done);
  }
  const double secs = Now() - win_t0_;
  TrainRecord r{static_cast<double>(done),
                static_cast<double>(done) / per_epoch,
                lr,
                window_.loss / static_cast<double>(std::max<int64_t>(window_.count, 1)),
                ErrorPercent(window_.count, window_.correct),
                secs > 0 ? win_images_ / secs : 0};
  result_.train.push_back(r);
  schedule_.ObserveTrainError(r.error);
  observer_.OnTrain(r, Now() - t0_);
  window_ = TrainerState::Window{0, 0, 0, done};
  win_loss_.zero_();
  win_correct_.zero_();
  win_images_ = 0;
  win_t0_ = Now();
}

void FitLoop::EvaluateAndCheckpoint(int64_t done) {
  // Evaluation and checkpoint time is not training time: keep it out of the images/s of the window.
  const double aside = Now();
  if (eval_ && ((cfg_.eval_every > 0 && done % cfg_.eval_every == 0) || done == cfg_.iterations)) Evaluate();
  if (cfg_.checkpoint_every > 0 && done % cfg_.checkpoint_every == 0 && done != cfg_.iterations) WriteCheckpoint();
  win_t0_ += Now() - aside;
}

void FitLoop::Finish() {
  std::lock_guard<std::mutex> lock(model_->mu);
  if (result_.stopped == StopReason::kNan) return;
  WriteCheckpoint();
  // The model now carries the normalization it was trained with (used by evaluate and save), and the meta its
  // checkpoint holds (the fit's, e.g. the class names, and the iteration; no longer a shipped network's record).
  model_->normalization = norm_;
  model_->meta = TrainedMeta();
}

void FitLoop::SetLayout(bool channels_last) {
  c10::NoGradGuard no_grad;
  const auto fmt = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& p : model_->net->parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(fmt));
  }
}

// Caller holds model_->mu. SGD over every parameter but the frozen stages', each at its stage's multiple of the
// rate (all of them at 1, in parameter order, when fine-tuning sets nothing: the plain fit).
void FitLoop::MakeSgd() {
  if (cfg_.distributed && (!cfg_.freeze.empty() || !cfg_.lr_scales.empty())) {
    throw std::invalid_argument("freezing stages and per-stage learning rates are not available in data-parallel fits");
  }
  for (const auto& [stage, scale] : cfg_.lr_scales) (void)StageModules(stage);
  model_->net->SetFrozen(cfg_.freeze);
  std::vector<at::Tensor> params;
  std::vector<double> scales;
  sgd_names_.clear();
  for (const auto& p : model_->net->named_parameters(true)) {
    if (!p.value().requires_grad()) continue;
    double scale = 1.0;
    for (const auto& [stage, s] : cfg_.lr_scales) {
      if (StageOf(p.key()) == stage) scale = s;
    }
    sgd_names_.push_back(p.key());
    params.push_back(p.value());
    scales.push_back(scale);
  }
  sgd_ = std::make_unique<Sgd>(std::move(params), cfg_.sgd, std::move(scales));
}

// Caller holds model_->mu.
void FitLoop::Restore() {
  if (cfg_.batches.channels_last) SetLayout(false);
  model_->net->SetFusedBatchNorm(false);
  model_->net->SetBatchNormSync(nullptr);
  model_->net->SetFrozen({});
  model_->net->train(model_->training.load());
}

void FitLoop::Step(const at::Tensor& x, const at::Tensor& y, double lr, const at::Tensor& lr_tensor,
                   at::Tensor& loss_out, at::Tensor& correct_out, at::Tensor& control) {
  auto& net = model_->net;
  net->train(true);
  at::Tensor logits;
  {
    PrecisionScope precision(cfg_.precision, x.device().type());
    logits = net->forward(x);
  }
  auto loss = torch::nn::functional::cross_entropy(logits.to(at::kFloat), y);
  loss.backward();
  if (comm_) {
    const bool stop = abort_.load() || model_->disposed.load();
    control = at::tensor({stop ? 1.0f : 0.0f, loss.detach().to(at::kCPU).item<float>()}, at::kFloat);
    AverageGradients(control);
  }
  if (lr_tensor.defined()) {
    sgd_->Step(lr_tensor);
  } else {
    sgd_->Step(lr);
  }
  c10::NoGradGuard no_grad;
  loss_out = loss.detach();
  correct_out = logits.detach().argmax(1).eq(y).sum();
}

void FitLoop::SyncWindow() {
  if (win_loss_.defined()) {
    window_.loss = win_loss_.item<double>();
    window_.correct = win_correct_.item<int64_t>();
  }
}

// Caller holds model_->mu.
void FitLoop::Evaluate() {
  auto& net = model_->net;
  net->eval();
  EvalResult r;
  try {
    const bool cl = cfg_.batches.channels_last;
    // Distributed: each rank evaluates its share of the images, and the counts are summed.
    std::shared_ptr<const Dataset> part = eval_;
    if (comm_) {
      const int64_t n = eval_->size(), w = comm_->world_size(), k = comm_->rank();
      part = eval_->Slice(n * k / w, n * (k + 1) / w);
    }
    r = resnet_cifar::Evaluate(
        [&](const at::Tensor& x) { return net->forward(cl ? x.contiguous(at::MemoryFormat::ChannelsLast) : x); },
        model_->device, *part, cfg_.eval_batch, norm_, net->options.num_classes(), cfg_.precision);
    if (comm_) {
      std::vector<at::Tensor> sums{at::tensor(r.confusion, at::kLong), at::tensor({r.loss_sum}, at::kDouble)};
      comm_->AllReduceSum(sums);
      r.confusion.assign(sums[0].data_ptr<int64_t>(), sums[0].data_ptr<int64_t>() + sums[0].numel());
      r.loss_sum = sums[1].item<double>();
      r.count = eval_->size();
    }
  } catch (...) {
    net->train(true);
    throw;
  }
  net->train(true);
  result_.eval.push_back({static_cast<double>(result_.iteration), r.Error(), r.MeanLoss()});
  observer_.OnEval(result_.iteration, r);
}

}  // namespace resnet_cifar
