#include "fit.h"

#include <c10/core/GradMode.h>
#include <ATen/ATen.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/nn/functional/loss.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "errors.h"
#include "files.h"
#include "state_dict.h"

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

FitLoop::FitLoop(std::shared_ptr<ModelState> model, std::shared_ptr<const Dataset> train,
                 std::shared_ptr<const Dataset> eval, FitConfig config, FitObserver& observer)
    : model_(std::move(model)), train_(std::move(train)), eval_(std::move(eval)), cfg_(std::move(config)),
      observer_(observer), schedule_(cfg_.schedule) {}

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
  if (!cfg_.checkpoint_path.empty()) RemoveStaleTemps(cfg_.checkpoint_path);
  std::lock_guard<std::mutex> lock(model_->mu);
  sgd_ = std::make_unique<Sgd>(model_->net->parameters(), cfg_.sgd);
  if (cfg_.resume && FileExists(cfg_.checkpoint_path)) {
    Resume();
  } else {
    norm_ = cfg_.normalization ? *cfg_.normalization : train_->Statistics(cfg_.normalization_kind);
  }
  result_.normalization = norm_;
  if (cfg_.batches.channels_last) SetLayout(true);
  model_->net->SetFusedBatchNorm(cfg_.fused_bn);
}

// Caller holds model_->mu. Weights, momentum, iteration, warm-up and window state, history and the normalization
// the run started with.
void FitLoop::Resume() {
  const std::string& path = cfg_.checkpoint_path;
  Checkpoint ck = ReadCheckpoint(path);
  CheckResumable(path, ck, model_->net->options, cfg_.batches.seed, cfg_.batches.batch, train_->size());
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
    for (const auto& p : model_->net->named_parameters(true)) {
      auto it = std::find_if(t.momentum.begin(), t.momentum.end(), [&](const auto& kv) { return kv.first == p.key(); });
      if (it == t.momentum.end() || it->second.sizes() != p.value().sizes()) {
        throw std::runtime_error("Cannot resume from " + path + ": momentum buffer of '" + p.key() +
                                 "' is missing or mis-shaped");
      }
      buffers.push_back(it->second.to(model_->device).contiguous(p.value().suggest_memory_format()));
    }
    sgd_->set_momentum(std::move(buffers));
  }
}

void FitLoop::Loop() {
  const auto dev = model_->device;
  BatchMaker maker(*train_, norm_, cfg_.batches, dev);
  std::unique_ptr<Prefetcher> prefetch;
  Batch fixed;
  if (cfg_.step_only) {
    fixed = maker.Make(0);
  } else if (result_.iteration < cfg_.iterations) {
    prefetch = std::make_unique<Prefetcher>(maker);
    prefetch->Request(result_.iteration);
  }
  win_loss_ = at::full({}, window_.loss, at::TensorOptions().dtype(at::kDouble).device(dev));
  win_correct_ = at::full({}, window_.correct, at::TensorOptions().dtype(at::kLong).device(dev));
  double win_t0 = Now();
  int64_t win_images = 0;
  // RESNET_CIFAR_PROFILE=FILE: libtorch's profiler over 5 steps (after 3 of warm-up), as a Chrome trace in FILE.
  const char* profile_file = std::getenv("RESNET_CIFAR_PROFILE");
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  while (result_.iteration < cfg_.iterations) {
    if (profile_file && *profile_file) {
      const int64_t k = result_.iteration - result_.start_iteration;
      if (k == 3) profile = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(profile_file));
      if (k == 8) profile.reset();
    }
    if (abort_.load() || model_->disposed.load()) {
      result_.stopped = "aborted";
      break;
    }
    const int64_t it = result_.iteration;
    Batch b = cfg_.step_only ? fixed : prefetch->Take(it);
    if (!cfg_.step_only && it + 1 < cfg_.iterations) prefetch->Request(it + 1);
    const double lr = schedule_.At(it);
    at::Tensor loss, correct;
    std::unique_lock<std::mutex> lock(model_->mu);
    Step(b, lr, loss, correct);
    const int64_t done = it + 1;
    const bool report = done % cfg_.report_every == 0 || done == cfg_.iterations;
    // On the CPU reading the loss costs nothing, so it is checked every step; on CUDA at report points.
    if (dev.is_cpu() || report) {
      const double loss_v = loss.item<double>();
      if (!std::isfinite(loss_v)) {
        result_.error = "Training stopped at iteration " + std::to_string(done) + ": the loss is " +
                        (std::isnan(loss_v) ? "NaN" : "infinite") + " (lr " + std::to_string(lr) + ")." +
                        (cfg_.checkpoint_path.empty()
                             ? std::string(" No checkpoint directory was set.")
                             : " The last good checkpoint is kept at " + cfg_.checkpoint_path +
                                   (result_.checkpoint.empty() ? " (if one was written before)." : "."));
        result_.stopped = "nan";
        break;
      }
    }
    win_loss_.add_(loss.to(at::kDouble) * static_cast<double>(b.y.size(0)));
    win_correct_.add_(correct);
    window_.count += b.y.size(0);
    win_images += b.y.size(0);
    result_.iteration = done;
    if (report) {
      SyncWindow();
      const double secs = Now() - win_t0;
      TrainRecord r{static_cast<double>(done), static_cast<double>(done) / maker.PerEpoch(), lr,
                    window_.loss / static_cast<double>(std::max<int64_t>(window_.count, 1)),
                    ErrorPercent(window_.count, window_.correct), secs > 0 ? win_images / secs : 0};
      result_.train.push_back(r);
      schedule_.ObserveTrainError(r.error);
      observer_.OnTrain(r, Now() - t0_);
      window_ = TrainerState::Window{0, 0, 0, done};
      win_loss_.zero_();
      win_correct_.zero_();
      win_images = 0;
      win_t0 = Now();
    }
    // Evaluation and checkpoint time is not training time: keep it out of the images/s of the window.
    const double aside = Now();
    if (eval_ && ((cfg_.eval_every > 0 && done % cfg_.eval_every == 0) || done == cfg_.iterations)) Evaluate();
    if (cfg_.checkpoint_every > 0 && done % cfg_.checkpoint_every == 0 && done != cfg_.iterations) WriteCheckpoint();
    win_t0 += Now() - aside;
  }
  prefetch.reset();
  std::lock_guard<std::mutex> lock(model_->mu);
  if (result_.stopped != "nan") {
    WriteCheckpoint();
    // The model now carries the normalization it was trained with (used by evaluate and save).
    model_->normalization = norm_;
    model_->meta.insert_or_assign(std::string("iteration"), result_.iteration);
  }
}

void FitLoop::SetLayout(bool channels_last) {
  c10::NoGradGuard no_grad;
  const auto fmt = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& p : model_->net->parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(fmt));
  }
}

// Caller holds model_->mu.
void FitLoop::Restore() {
  if (cfg_.batches.channels_last) SetLayout(false);
  model_->net->SetFusedBatchNorm(false);
  model_->net->train(model_->training.load());
}

void FitLoop::Step(const Batch& b, double lr, at::Tensor& loss_out, at::Tensor& correct_out) {
  auto& net = model_->net;
  net->train(true);
  at::Tensor logits;
  {
    PrecisionScope precision(cfg_.precision, b.x.device().type());
    logits = net->forward(b.x);
  }
  auto loss = torch::nn::functional::cross_entropy(logits.to(at::kFloat), b.y);
  loss.backward();
  sgd_->Step(lr);
  c10::NoGradGuard no_grad;
  loss_out = loss.detach();
  correct_out = logits.detach().argmax(1).eq(b.y).sum();
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
    r = resnet_cifar::Evaluate([&](const at::Tensor& x) { return net->forward(cl ? x.contiguous(at::MemoryFormat::ChannelsLast) : x); },
                               model_->device, *eval_, cfg_.eval_batch, norm_, net->options.num_classes(), cfg_.precision);
  } catch (...) {
    net->train(true);
    throw;
  }
  net->train(true);
  result_.eval.push_back({static_cast<double>(result_.iteration), r.Error(), r.MeanLoss()});
  observer_.OnEval(result_.iteration, r);
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
  t.window = window_;
  const auto& mom = sgd_->momentum();
  if (!mom.empty()) {
    auto named = model_->net->named_parameters(true);
    for (size_t i = 0; i < named.size() && i < mom.size(); ++i) t.momentum.emplace_back(named[i].key(), mom[i]);
  }
  t.train = result_.train;
  t.eval = result_.eval;
  return t;
}

// Caller holds model_->mu.
void FitLoop::WriteCheckpoint() {
  if (cfg_.checkpoint_path.empty()) return;
  SyncWindow();
  Meta meta = model_->meta.copy();
  for (const auto& kv : cfg_.meta) meta.insert_or_assign(kv.key(), kv.value());
  meta.insert_or_assign(std::string("iteration"), result_.iteration);
  TrainerState state = State();
  WriteFileAtomic(cfg_.checkpoint_path, CheckpointBytes(model_->net, meta, norm_, &state));
  result_.checkpoint = cfg_.checkpoint_path;
  observer_.OnCheckpoint(result_.iteration, cfg_.checkpoint_path);
}

}  // namespace resnet_cifar
