// Training runs on its own std::thread over plain C++ state (the model's and the datasets' shared state);
// progress reaches JS through a Napi::ThreadSafeFunction, so neither side waits on the other.
#include "trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "checkpoint.h"
#include "common.h"
#include "model.h"

namespace resnet_cifar {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

static const int64_t kTrainerStateVersion = 1;

std::string CheckpointPath(const std::string& dir) { return dir + "/checkpoint.pt"; }

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

// ---------------------------------------------------------------------------------------------------------------
// Options

static Napi::Value Field(const Napi::Object& o, const char* k) { return o.Get(k); }

static double Num(const Napi::Object& o, const char* k) {
  auto v = Field(o, k);
  if (!v.IsNumber()) throw TypeErrorEx(std::string("fit option ") + k + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw RangeErrorEx(std::string("fit option ") + k + " must be finite");
  return d;
}

static int64_t Int(const Napi::Object& o, const char* k, int64_t min) {
  double d = Num(o, k);
  if (d != std::floor(d) || d < static_cast<double>(min) || d > 9e15) {
    throw RangeErrorEx(std::string("fit option ") + k + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int64_t>(d);
}

static bool Bool(const Napi::Object& o, const char* k) {
  auto v = Field(o, k);
  if (!v.IsBoolean()) throw TypeErrorEx(std::string("fit option ") + k + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

static TrainConfig ParseConfig(const Napi::Object& o) {
  TrainConfig c;
  c.iterations = Int(o, "iterations", 1);
  c.batch = Int(o, "batchSize", 1);
  c.lr = Num(o, "lr");
  c.momentum = Num(o, "momentum");
  c.weight_decay = Num(o, "weightDecay");
  c.gamma = Num(o, "gamma");
  if (c.lr <= 0 || c.momentum < 0 || c.momentum >= 1 || c.weight_decay < 0 || c.gamma <= 0) {
    throw RangeErrorEx("fit options: need lr > 0, 0 <= momentum < 1, weightDecay >= 0, gamma > 0");
  }
  auto ms = Field(o, "milestones");
  if (!ms.IsArray()) throw TypeErrorEx("fit option milestones must be an array");
  c.milestones.clear();
  auto arr = ms.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    auto v = arr.Get(i);
    if (!v.IsNumber()) throw TypeErrorEx("fit option milestones must hold integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < 1) throw RangeErrorEx("fit option milestones must hold integers >= 1");
    if (!c.milestones.empty() && d <= static_cast<double>(c.milestones.back())) {
      throw RangeErrorEx("fit option milestones must be increasing");
    }
    c.milestones.push_back(static_cast<int64_t>(d));
  }
  c.warmup_lr = Num(o, "warmupLr");
  c.warmup_iterations = Int(o, "warmupIterations", 0);
  c.warmup_until_error = Num(o, "warmupUntilError");
  c.seed = static_cast<uint64_t>(Int(o, "seed", 0));
  c.report_every = Int(o, "reportEvery", 1);
  c.eval_every = Int(o, "evalEvery", 0);
  c.eval_batch = Int(o, "evalBatchSize", 1);
  c.checkpoint_every = Int(o, "checkpointEvery", 0);
  c.resume = Bool(o, "resume");
  c.channels_last = Bool(o, "channelsLast");
  c.step_only = Bool(o, "stepOnly");
  if (o.Has("genericBatch")) c.generic_batch = Bool(o, "genericBatch");
  if (o.Has("fusedBatchNorm")) c.fused_bn = Bool(o, "fusedBatchNorm");
  auto dir = Field(o, "checkpointDir");
  if (!dir.IsString()) throw TypeErrorEx("fit option checkpointDir must be a string");
  c.checkpoint_dir = dir.As<Napi::String>().Utf8Value();
  auto kind = Field(o, "normalization");
  if (!kind.IsString()) throw TypeErrorEx("fit option normalization must be 'pixel' or 'channel'");
  c.norm_kind = kind.As<Napi::String>().Utf8Value();
  if (c.norm_kind != "pixel" && c.norm_kind != "channel") {
    throw RangeErrorEx("fit option normalization must be 'pixel' or 'channel'");
  }
  c.norm = ParseNormalization(Field(o, "mean"), Field(o, "std"), "fit");
  if ((c.norm_kind == "pixel") != c.norm.per_pixel()) {
    throw RangeErrorEx("fit: 'pixel' normalization needs 3072 mean values, 'channel' needs 3");
  }
  auto meta = Field(o, "meta");
  if (!meta.IsUndefined()) {
    auto iv = ToIValue(meta, "fit: meta");
    if (!iv.isGenericDict()) throw TypeErrorEx("fit: meta must be a plain object");
    c.extra_meta = iv.toGenericDict();
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Randomness: every draw is a pure function of (seed, epoch) or (seed, iteration), so the data order and the
// augmentation of any iteration are known without replaying the ones before it (exact resume, and prefetching
// cannot shift the stream).

static uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

static at::Generator StreamGenerator(uint64_t seed, uint64_t stream, uint64_t index) {
  return at::make_generator<at::CPUGeneratorImpl>(SplitMix(seed ^ SplitMix(stream * 0x100000000ULL + index)));
}

struct Batch {
  torch::Tensor x;  // normalized float, on the training device
  torch::Tensor y;  // int64 labels
};

// Builds the augmented batch of iteration `it`: images of its slice of the epoch's permutation, zero-padded by 4,
// randomly cropped to 32x32 and flipped, as one gather on whichever device holds the data.
class BatchMaker {
 public:
  BatchMaker(torch::Tensor images, torch::Tensor labels, const TrainConfig& cfg, torch::Device dev)
      : images_(std::move(images)), labels_(std::move(labels)), cfg_(cfg), dev_(dev),
        norm_{cfg.norm.mean.to(dev), cfg.norm.std.to(dev)} {
    n_ = labels_.size(0);
    per_epoch_ = (n_ + cfg_.batch - 1) / cfg_.batch;
  }

  int64_t PerEpoch() const { return per_epoch_; }

  // The CPU form of the gather below, fused into one pass that writes normalized floats straight into the
  // training layout: same arithmetic ((v / 255 - mean) / std in float), so the same values bit for bit.
  torch::Tensor CropCpu(const torch::Tensor& idx, const torch::Tensor& dy, const torch::Tensor& dx,
                        const torch::Tensor& flip) const {
    const int64_t b = idx.size(0);
    auto x = torch::empty({b, 3, 32, 32}, torch::TensorOptions().dtype(torch::kFloat).memory_format(
                                              cfg_.channels_last ? torch::MemoryFormat::ChannelsLast
                                                                 : torch::MemoryFormat::Contiguous));
    float* out = x.data_ptr<float>();
    const uint8_t* src = images_.data_ptr<uint8_t>();
    auto mean = norm_.mean.contiguous(), sd = norm_.std.contiguous();
    const float* m = mean.data_ptr<float>();
    const float* s = sd.data_ptr<float>();
    const bool pixel = mean.numel() == 3072;
    const int64_t* ip = idx.data_ptr<int64_t>();
    const int64_t* yp = dy.data_ptr<int64_t>();
    const int64_t* xp = dx.data_ptr<int64_t>();
    const bool* fp = flip.data_ptr<bool>();
    const bool cl = cfg_.channels_last;
    for (int64_t i = 0; i < b; ++i) {
      const uint8_t* img = src + ip[i] * 3072;
      float* o = out + i * 3072;
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t y = 0; y < 32; ++y) {
          const int64_t sy = yp[i] + y - 4;
          for (int64_t xx = 0; xx < 32; ++xx) {
            const int64_t sx = xp[i] + (fp[i] ? 31 - xx : xx) - 4;
            const uint8_t v = (sy < 0 || sy > 31 || sx < 0 || sx > 31) ? 0 : img[c * 1024 + sy * 32 + sx];
            const float mu = pixel ? m[c * 1024 + y * 32 + xx] : m[c];
            const float val = (static_cast<float>(v) / 255.0f - mu) / s[c];
            o[cl ? (y * 32 + xx) * 3 + c : c * 1024 + y * 32 + xx] = val;
          }
        }
      }
    }
    return x;
  }

  struct Draw {
    torch::Tensor index, dy, dx, flip;  // which images, crop offsets in the padded 40x40 image, flips
  };

  Batch Make(int64_t it, Draw* draw = nullptr) {
    torch::NoGradGuard no_grad;
    const int64_t epoch = it / per_epoch_, k = it % per_epoch_;
    if (epoch != order_epoch_) {
      auto g = StreamGenerator(cfg_.seed, 1, static_cast<uint64_t>(epoch));
      order_ = torch::randperm(n_, g, torch::kLong);
      order_epoch_ = epoch;
    }
    const int64_t start = k * cfg_.batch, b = std::min(cfg_.batch, n_ - start);
    auto idx = order_.narrow(0, start, b).to(dev_);
    auto g = StreamGenerator(cfg_.seed, 2, static_cast<uint64_t>(it));
    auto dy = torch::randint(0, 9, {b}, g, torch::kLong).to(dev_);
    auto dx = torch::randint(0, 9, {b}, g, torch::kLong).to(dev_);
    auto flip = torch::randint(0, 2, {b}, g, torch::kLong).to(dev_).to(torch::kBool);
    if (dev_.is_cpu() && !cfg_.generic_batch) {
      if (draw) *draw = {idx, dy, dx, flip};
      return {CropCpu(idx, dy, dx, flip), labels_.index_select(0, idx)};
    }
    auto opts = torch::TensorOptions().dtype(torch::kLong).device(dev_);
    auto ar = torch::arange(32, opts);
    auto rows = dy.unsqueeze(1) + ar;                                                     // b x 32
    auto cols = torch::where(flip.unsqueeze(1), dx.unsqueeze(1) + 31 - ar, dx.unsqueeze(1) + ar);
    auto padded = torch::constant_pad_nd(images_.index_select(0, idx), {4, 4, 4, 4}, 0);  // b x 3 x 40 x 40
    auto bi = torch::arange(b, opts).view({b, 1, 1, 1});
    auto ci = torch::arange(3, opts).view({1, 3, 1, 1});
    auto crop = padded.index({bi, ci, rows.view({b, 1, 32, 1}), cols.view({b, 1, 1, 32})});
    auto x = NormalizeBatch(crop, norm_);
    if (cfg_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    if (draw) *draw = {idx, dy, dx, flip};
    return {x, labels_.index_select(0, idx)};
  }

 private:
  torch::Tensor images_, labels_;
  const TrainConfig& cfg_;
  torch::Device dev_;
  Normalization norm_;
  int64_t n_ = 0, per_epoch_ = 1;
  int64_t order_epoch_ = -1;
  torch::Tensor order_;
};

// One background thread that prepares the batch of iteration k+1 while iteration k computes.
class Prefetcher {
 public:
  explicit Prefetcher(BatchMaker& maker) : maker_(maker), thread_([this] { Loop(); }) {}
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Request(int64_t it) {
    std::lock_guard<std::mutex> l(mu_);
    want_ = it;
    cv_.notify_all();
  }
  Batch Take(int64_t it) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return (ready_ == it && want_ < 0) || error_; });
    if (error_) std::rethrow_exception(error_);
    ready_ = -1;
    return std::move(batch_);
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || want_ >= 0; });
      if (stop_) return;
      const int64_t it = want_;
      l.unlock();
      Batch b;
      std::exception_ptr err;
      try {
        b = maker_.Make(it);
      } catch (...) {
        err = std::current_exception();
      }
      l.lock();
      if (err) error_ = err;
      batch_ = std::move(b);
      ready_ = it;
      if (want_ == it) want_ = -1;
      cv_.notify_all();
    }
  }

  BatchMaker& maker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t want_ = -1, ready_ = -1;
  Batch batch_;
  std::exception_ptr error_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------------------------
// The job

struct TrainRecord {
  double iteration, epoch, lr, loss, error, ips;
};
struct EvalRecord {
  double iteration, error, loss;
};

struct Event {
  enum Kind { kTrain, kEval, kCheckpoint } kind;
  TrainRecord train{};
  double elapsed = 0;
  int64_t iteration = 0;
  EvalResult eval;
  std::string path;
};

struct FitJob {
  std::shared_ptr<ModelState> model;
  std::shared_ptr<DatasetState> train, eval;
  TrainConfig cfg;
  std::atomic<bool> abort{false};

  std::thread thread;
  Napi::ThreadSafeFunction tsfn;
  std::mutex tsfn_mu;  // guards tsfn use against its finalizer (env teardown)
  std::mutex join_mu;  // the finalizer and the exit handler may both try to join the thread
  bool finalizing = false;
  Napi::Promise::Deferred deferred;
  Napi::FunctionReference on_event;

  // Training state (what a checkpoint holds besides the weights).
  int64_t iteration = 0, start_iteration = 0;
  bool warmup_done = false;
  std::vector<torch::Tensor> momentum;  // by parameter order; undefined before the first step
  double win_loss = 0;  // host copies of the report window (read at report points and checkpoints)
  int64_t win_correct = 0, win_count = 0, win_start = 0;
  torch::Tensor win_loss_t, win_correct_t;  // on the device: no per-step host sync on CUDA
  void SyncWindow() {
    if (win_loss_t.defined()) {
      win_loss = win_loss_t.item<double>();
      win_correct = win_correct_t.item<int64_t>();
    }
  }
  std::vector<TrainRecord> train_history;
  std::vector<EvalRecord> eval_history;

  // Outcome.
  std::string stopped = "completed";
  std::string error;
  std::string checkpoint_written;
  double seconds = 0;

  explicit FitJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}

  void Post(Event* e) {
    std::lock_guard<std::mutex> l(tsfn_mu);
    if (finalizing || tsfn.NonBlockingCall(e, &FitJob::Deliver) != napi_ok) delete e;
  }

  static void Deliver(Napi::Env env, Napi::Function, Event* e);
  void Run();
  double LrAt(int64_t it);
  void Step(const Batch& b, double lr, torch::Tensor& loss_out, torch::Tensor& correct_out);
  EvalRecord Evaluate();
  void WriteCheckpoint();
  void Resume();
  void SetLayout(bool channels_last);
};

double FitJob::LrAt(int64_t it) {
  const bool warm = cfg.warmup_lr > 0 && (cfg.warmup_iterations > 0 || cfg.warmup_until_error >= 0);
  if (warm && !warmup_done) {
    if (cfg.warmup_iterations > 0 && it >= cfg.warmup_iterations) {
      warmup_done = true;
    } else {
      return cfg.warmup_lr;
    }
  }
  double lr = cfg.lr;
  for (int64_t m : cfg.milestones) {
    if (it >= m) lr *= cfg.gamma;
  }
  return lr;
}

void FitJob::SetLayout(bool channels_last) {
  torch::NoGradGuard no_grad;
  const auto fmt = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto& p : model->net->parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(fmt));
  }
}

// PyTorch's SGD (dampening 0, no Nesterov) with its foreach kernels: d = g + wd * p; buf = m * buf + d (buf = d on
// the first step); p -= lr * buf. Gradients are then dropped (zero_grad(set_to_none=True)).
void FitJob::Step(const Batch& b, double lr, torch::Tensor& loss_out, torch::Tensor& correct_out) {
  auto& net = model->net;
  net->train(true);
  auto logits = net->forward(b.x);
  auto loss = F::cross_entropy(logits, b.y);
  loss.backward();
  torch::NoGradGuard no_grad;
  auto params = net->parameters();
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (auto& p : params) grads.push_back(p.grad());
  if (cfg.weight_decay != 0) grads = at::_foreach_add(grads, params, cfg.weight_decay);
  if (cfg.momentum != 0) {
    if (momentum.empty() || !momentum[0].defined()) {
      momentum.clear();
      for (auto& g : grads) momentum.push_back(g.clone().detach());
    } else {
      at::_foreach_mul_(momentum, cfg.momentum);
      at::_foreach_add_(momentum, grads, 1.0);
    }
    at::_foreach_add_(params, momentum, -lr);
  } else {
    at::_foreach_add_(params, grads, -lr);
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  loss_out = loss.detach();
  correct_out = logits.detach().argmax(1).eq(b.y).sum();
}

EvalRecord FitJob::Evaluate() {
  auto& net = model->net;
  net->eval();
  const int64_t classes = net->options.num_classes();
  EvalResult r;
  try {
    r = EvaluateWith([&](const torch::Tensor& x) {
      return net->forward(cfg.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x);
    }, model->device, eval->images, eval->labels, cfg.eval_batch, cfg.norm, classes);
  } catch (...) {
    net->train(true);
    throw;
  }
  net->train(true);
  int64_t correct = 0;
  for (int64_t c = 0; c < classes; ++c) correct += r.confusion[c * classes + c];
  EvalRecord rec{static_cast<double>(iteration), 100.0 * (r.count - correct) / r.count, r.loss_sum / r.count};
  eval_history.push_back(rec);
  auto* e = new Event{Event::kEval};
  e->iteration = iteration;
  e->eval = std::move(r);
  Post(e);
  return rec;
}

// Plain (generic) lists: typed ones pickle as torch.jit._pickle.build_doublelist, which weights_only refuses.
static c10::impl::GenericList Column(const std::vector<TrainRecord>& v, double TrainRecord::*f) {
  c10::impl::GenericList l(c10::AnyType::get());
  for (const auto& r : v) l.push_back(r.*f);
  return l;
}
static c10::impl::GenericList Column(const std::vector<EvalRecord>& v, double EvalRecord::*f) {
  c10::impl::GenericList l(c10::AnyType::get());
  for (const auto& r : v) l.push_back(r.*f);
  return l;
}

static c10::impl::GenericDict NewDict() { return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get()); }

static c10::impl::GenericList ToList(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).to(torch::kDouble).contiguous();
  c10::impl::GenericList l(c10::AnyType::get());
  for (int64_t i = 0; i < c.numel(); ++i) l.push_back(c.data_ptr<double>()[i]);
  return l;
}

static c10::impl::GenericDict NormalizationMeta(const TrainConfig& cfg) {
  auto d = NewDict();
  d.insert(std::string("kind"), cfg.norm_kind);
  d.insert(std::string("mean"), ToList(cfg.norm.mean));
  d.insert(std::string("std"), ToList(cfg.norm.std));
  return d;
}

// Caller holds model->mu.
void FitJob::WriteCheckpoint() {
  if (cfg.checkpoint_dir.empty()) return;
  SyncWindow();
  auto meta = MergedMeta(model->meta, cfg.extra_meta);
  meta.insert_or_assign(std::string("normalization"), NormalizationMeta(cfg));
  meta.insert_or_assign(std::string("iteration"), iteration);
  auto t = NewDict();
  t.insert(std::string("version"), kTrainerStateVersion);
  t.insert(std::string("iteration"), iteration);
  t.insert(std::string("iterations"), cfg.iterations);
  t.insert(std::string("seed"), static_cast<int64_t>(cfg.seed));
  t.insert(std::string("batch_size"), cfg.batch);
  t.insert(std::string("train_size"), train->labels.size(0));
  t.insert(std::string("rng"), std::string("splitmix64(seed, epoch) order, splitmix64(seed, iteration) augmentation"));
  t.insert(std::string("warmup_done"), warmup_done);
  auto win = NewDict();
  win.insert(std::string("loss"), win_loss);
  win.insert(std::string("correct"), win_correct);
  win.insert(std::string("count"), win_count);
  win.insert(std::string("start"), win_start);
  t.insert(std::string("window"), win);
  c10::Dict<std::string, at::Tensor> mom;
  auto named = model->net->named_parameters(true);
  if (!momentum.empty()) {
    for (size_t i = 0; i < named.size(); ++i) {
      mom.insert(named[i].key(), momentum[i].detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous));
    }
  }
  t.insert(std::string("momentum"), mom);
  auto hist = NewDict(), tr = NewDict(), ev = NewDict();
  tr.insert(std::string("iteration"), Column(train_history, &TrainRecord::iteration));
  tr.insert(std::string("epoch"), Column(train_history, &TrainRecord::epoch));
  tr.insert(std::string("lr"), Column(train_history, &TrainRecord::lr));
  tr.insert(std::string("loss"), Column(train_history, &TrainRecord::loss));
  tr.insert(std::string("error"), Column(train_history, &TrainRecord::error));
  tr.insert(std::string("images_per_second"), Column(train_history, &TrainRecord::ips));
  ev.insert(std::string("iteration"), Column(eval_history, &EvalRecord::iteration));
  ev.insert(std::string("error"), Column(eval_history, &EvalRecord::error));
  ev.insert(std::string("loss"), Column(eval_history, &EvalRecord::loss));
  hist.insert(std::string("train"), tr);
  hist.insert(std::string("eval"), ev);
  t.insert(std::string("history"), hist);
  auto root = NewDict();
  root.insert(std::string("trainer"), t);
  const std::string path = CheckpointPath(cfg.checkpoint_dir);
  WriteFileAtomic(path, CheckpointBytes(model->net, meta, &root));
  checkpoint_written = path;
  auto* e = new Event{Event::kCheckpoint};
  e->iteration = iteration;
  e->path = path;
  Post(e);
}

static const c10::IValue& Need(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  auto it = d.find(std::string(key));
  if (it == d.end()) throw std::runtime_error(path + ": trainer state lacks '" + key + "'");
  return it->value();
}

static std::vector<double> Doubles(const c10::IValue& v) {
  std::vector<double> out;
  if (!v.isList()) return out;
  for (const auto& e : v.toListRef()) out.push_back(e.isDouble() ? e.toDouble() : static_cast<double>(e.toInt()));
  return out;
}

// Caller holds model->mu. Restores weights, momentum, iteration, warm-up and window state, history and the
// normalization the run started with.
void FitJob::Resume() {
  const std::string path = CheckpointPath(cfg.checkpoint_dir);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;  // nothing to resume: a fresh start
  CheckpointData ck = ReadCheckpoint(path);
  const auto& mine = model->net->options;
  if (ck.options.depth() != mine.depth() || ck.options.shortcut() != mine.shortcut() ||
      ck.options.num_classes() != mine.num_classes()) {
    throw std::runtime_error("Cannot resume from " + path + ": it holds " + DescribeModel(ck.options) +
                             " but this model is " + DescribeModel(mine));
  }
  auto it = ck.root.find(std::string("trainer"));
  if (it == ck.root.end() || !it->value().isGenericDict()) {
    throw std::runtime_error("Cannot resume from " + path + ": it has no trainer state (it was written by save, not fit)");
  }
  auto t = it->value().toGenericDict();
  if (Need(t, "version", path).toInt() > kTrainerStateVersion) {
    throw std::runtime_error("Cannot resume from " + path + ": trainer state version is newer than this build");
  }
  const int64_t seed = Need(t, "seed", path).toInt(), batch = Need(t, "batch_size", path).toInt();
  const int64_t size = Need(t, "train_size", path).toInt();
  if (seed != static_cast<int64_t>(cfg.seed) || batch != cfg.batch || size != train->labels.size(0)) {
    throw std::runtime_error("Cannot resume from " + path + ": it was trained with seed " + std::to_string(seed) +
                             ", batch size " + std::to_string(batch) + " on " + std::to_string(size) +
                             " images, but this fit has seed " + std::to_string(cfg.seed) + ", batch size " +
                             std::to_string(cfg.batch) + " on " + std::to_string(train->labels.size(0)));
  }
  ApplyStateDict(model->net, ck.state_dict, path);
  iteration = start_iteration = Need(t, "iteration", path).toInt();
  warmup_done = Need(t, "warmup_done", path).toBool();
  auto win = Need(t, "window", path).toGenericDict();
  win_loss = Need(win, "loss", path).toDouble();
  win_correct = Need(win, "correct", path).toInt();
  win_count = Need(win, "count", path).toInt();
  win_start = Need(win, "start", path).toInt();
  momentum.clear();
  auto mom = Need(t, "momentum", path).toGenericDict();
  if (mom.size() > 0) {
    for (const auto& p : model->net->named_parameters(true)) {
      auto m = mom.find(p.key());
      if (m == mom.end() || !m->value().isTensor() || m->value().toTensor().sizes() != p.value().sizes()) {
        throw std::runtime_error("Cannot resume from " + path + ": momentum buffer of '" + p.key() + "' is missing or mis-shaped");
      }
      momentum.push_back(m->value().toTensor().to(model->device).contiguous(p.value().suggest_memory_format()));
    }
  }
  auto hist = Need(t, "history", path).toGenericDict();
  auto tr = Need(hist, "train", path).toGenericDict(), ev = Need(hist, "eval", path).toGenericDict();
  auto ti = Doubles(Need(tr, "iteration", path)), te = Doubles(Need(tr, "epoch", path)),
       tl = Doubles(Need(tr, "lr", path)), tlo = Doubles(Need(tr, "loss", path)),
       ter = Doubles(Need(tr, "error", path)), tips = Doubles(Need(tr, "images_per_second", path));
  train_history.clear();
  for (size_t i = 0; i < ti.size() && i < tips.size() && i < te.size() && i < tl.size() && i < tlo.size() && i < ter.size(); ++i) {
    train_history.push_back({ti[i], te[i], tl[i], tlo[i], ter[i], tips[i]});
  }
  auto ei = Doubles(Need(ev, "iteration", path)), ee = Doubles(Need(ev, "error", path)), el = Doubles(Need(ev, "loss", path));
  eval_history.clear();
  for (size_t i = 0; i < ei.size() && i < ee.size() && i < el.size(); ++i) eval_history.push_back({ei[i], ee[i], el[i]});
  // The run keeps the normalization it started with.
  auto nm = ck.meta.find(std::string("normalization"));
  if (nm != ck.meta.end() && nm->value().isGenericDict()) {
    auto n = nm->value().toGenericDict();
    auto mean = Doubles(Need(n, "mean", path)), sd = Doubles(Need(n, "std", path));
    const std::string kind = Need(n, "kind", path).toStringRef();
    if ((mean.size() != 3 && mean.size() != 3072) || sd.size() != 3) {
      throw std::runtime_error("Cannot resume from " + path + ": its normalization is malformed");
    }
    cfg.norm_kind = kind;
    cfg.norm.mean = torch::tensor(mean, torch::kDouble).to(torch::kFloat).view(mean.size() == 3 ? std::vector<int64_t>{1, 3, 1, 1} : std::vector<int64_t>{1, 3, 32, 32});
    cfg.norm.std = torch::tensor(sd, torch::kDouble).to(torch::kFloat).view({1, 3, 1, 1});
  }
}

void FitJob::Run() {
  const auto t0 = Clock::now();
  try {
    auto dev = model->device;
    if (!cfg.checkpoint_dir.empty()) RemoveStaleTemps(CheckpointPath(cfg.checkpoint_dir));
    {
      std::lock_guard<std::mutex> lock(model->mu);
      if (cfg.resume) Resume();
      if (cfg.channels_last) SetLayout(true);
      model->net->SetFusedBatchNorm(cfg.fused_bn);
    }
    // The data goes to the training device once; batches are cut and augmented there.
    BatchMaker maker(train->images.to(dev), train->labels.to(dev), cfg, dev);
    std::unique_ptr<Prefetcher> prefetch;
    Batch fixed;
    if (cfg.step_only) {
      fixed = maker.Make(0);
    } else if (iteration < cfg.iterations) {
      prefetch = std::make_unique<Prefetcher>(maker);
      prefetch->Request(iteration);
    }
    win_loss_t = torch::full({}, win_loss, torch::TensorOptions().dtype(torch::kDouble).device(dev));
    win_correct_t = torch::full({}, win_correct, torch::TensorOptions().dtype(torch::kLong).device(dev));
    auto win_t0 = Clock::now();
    int64_t win_images = 0;
    while (iteration < cfg.iterations) {
      if (abort.load() || model->disposed.load()) {
        stopped = "aborted";
        break;
      }
      Batch b = cfg.step_only ? fixed : prefetch->Take(iteration);
      if (!cfg.step_only && iteration + 1 < cfg.iterations) prefetch->Request(iteration + 1);
      const double lr = LrAt(iteration);
      torch::Tensor loss, correct;
      std::unique_lock<std::mutex> lock(model->mu);
      Step(b, lr, loss, correct);
      const int64_t done = iteration + 1;
      const bool report = done % cfg.report_every == 0 || done == cfg.iterations;
      // On the CPU reading the loss costs nothing, so it is checked every step; on CUDA at report points.
      double loss_v = 0;
      if (dev.is_cpu() || report) {
        loss_v = loss.item<double>();
        if (!std::isfinite(loss_v)) {
          error = "Training stopped at iteration " + std::to_string(done) + ": the loss is " +
                  (std::isnan(loss_v) ? "NaN" : "infinite") + " (lr " + std::to_string(lr) + ")." +
                  (checkpoint_written.empty() && cfg.checkpoint_dir.empty()
                       ? std::string(" No checkpoint directory was set.")
                       : " The last good checkpoint is kept at " + CheckpointPath(cfg.checkpoint_dir) +
                             (checkpoint_written.empty() ? " (if one was written before)." : "."));
          stopped = "nan";
          break;
        }
      }
      win_loss_t.add_(loss.to(torch::kDouble) * static_cast<double>(b.y.size(0)));
      win_correct_t.add_(correct);
      win_count += b.y.size(0);
      win_images += b.y.size(0);
      iteration = done;
      if (report) {
        SyncWindow();
        const double secs = std::chrono::duration<double>(Clock::now() - win_t0).count();
        TrainRecord r{static_cast<double>(done), static_cast<double>(done) / maker.PerEpoch(), lr,
                      win_loss / std::max<int64_t>(win_count, 1),
                      100.0 * (win_count - win_correct) / std::max<int64_t>(win_count, 1),
                      secs > 0 ? win_images / secs : 0};
        train_history.push_back(r);
        if (cfg.warmup_until_error >= 0 && cfg.warmup_lr > 0 && !warmup_done && r.error < cfg.warmup_until_error) {
          warmup_done = true;
        }
        auto* e = new Event{Event::kTrain};
        e->train = r;
        e->iteration = done;
        e->elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        Post(e);
        win_loss = 0;
        win_correct = win_count = 0;
        win_loss_t.zero_();
        win_correct_t.zero_();
        win_start = done;
        win_images = 0;
        win_t0 = Clock::now();
      }
      // Evaluation and checkpoint time is not training time: keep it out of the images/s of the window.
      const auto aside = Clock::now();
      if (eval && ((cfg.eval_every > 0 && done % cfg.eval_every == 0) || done == cfg.iterations)) Evaluate();
      if (cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0 && done != cfg.iterations) WriteCheckpoint();
      win_t0 += Clock::now() - aside;
    }
    prefetch.reset();
    std::lock_guard<std::mutex> lock(model->mu);
    if (stopped != "nan") WriteCheckpoint();
    if (cfg.channels_last) SetLayout(false);
    model->net->SetFusedBatchNorm(false);
    model->net->train(model->training.load());
    if (stopped != "nan") {
      // The model now carries the normalization it was trained with (used by evaluate and save).
      model->meta.insert_or_assign(std::string("normalization"), NormalizationMeta(cfg));
      model->meta.insert_or_assign(std::string("iteration"), iteration);
    }
  } catch (const c10::Error& e) {
    error = TorchMessage(e);
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "resnet-cifar: unknown native error during training";
  }
  if (!error.empty()) {
    std::lock_guard<std::mutex> lock(model->mu);
    if (cfg.channels_last) SetLayout(false);
    model->net->SetFusedBatchNorm(false);
    model->net->train(model->training.load());
  }
  seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  model->fitting = false;
}

static Napi::Object EvalToJs(Napi::Env env, const EvalRecord& r) {
  auto o = Napi::Object::New(env);
  o.Set("iteration", r.iteration);
  o.Set("error", r.error);
  o.Set("loss", r.loss);
  return o;
}

static Napi::Object TrainToJs(Napi::Env env, const TrainRecord& r) {
  auto o = Napi::Object::New(env);
  o.Set("iteration", r.iteration);
  o.Set("epoch", r.epoch);
  o.Set("lr", r.lr);
  o.Set("loss", r.loss);
  o.Set("trainError", r.error);
  o.Set("imagesPerSecond", r.ips);
  return o;
}


void FitJob::Deliver(Napi::Env env, Napi::Function callback, Event* e) {
  std::unique_ptr<Event> owned(e);
  if (env == nullptr || callback.IsEmpty()) return;
  Napi::HandleScope scope(env);
  Napi::Object o;
  switch (e->kind) {
    case Event::kTrain:
      o = TrainToJs(env, e->train);
      o.Set("kind", "train");
      o.Set("elapsed", e->elapsed);
      break;
    case Event::kEval:
      o = EvalResultToJs(env, e->eval).As<Napi::Object>();
      o.Set("kind", "eval");
      o.Set("iteration", static_cast<double>(e->iteration));
      break;
    case Event::kCheckpoint:
      o = Napi::Object::New(env);
      o.Set("kind", "checkpoint");
      o.Set("iteration", static_cast<double>(e->iteration));
      o.Set("path", e->path);
      break;
  }
  try {
    callback.Call({o});
  } catch (const Napi::Error&) {
    // lib/ wraps user callbacks and turns their errors into an abort; nothing may unwind into N-API here.
  }
}


// trainingBatch(dataset, options, iteration) -> { input, labels, index, dy, dx, flip }: exactly the batch a fit
// with these options trains on at `iteration` (CPU), for inspection and tests.
Napi::Value TrainingBatch(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto data = DatasetWrap::StateOf(info[0]);
    if (!info[1].IsObject()) throw TypeErrorEx("trainingBatch expects an options object");
    TrainConfig cfg = ParseConfig(info[1].As<Napi::Object>());
    const int64_t it = ArgInt(info, 2, "trainingBatch: iteration");
    if (it < 0) throw RangeErrorEx("trainingBatch: iteration must be >= 0");
    if (cfg.batch > data->labels.size(0)) throw RangeErrorEx("trainingBatch: batchSize is larger than the dataset");
    BatchMaker maker(data->images, data->labels, cfg, torch::kCPU);
    BatchMaker::Draw d;
    Batch b = maker.Make(it, &d);
    auto o = Napi::Object::New(env);
    o.Set("input", TensorToJs<float, Napi::Float32Array>(env, b.x));
    o.Set("labels", TensorToJs<int32_t, Napi::Int32Array>(env, b.y.to(torch::kInt)));
    o.Set("index", TensorToJs<int32_t, Napi::Int32Array>(env, d.index.to(torch::kInt)));
    o.Set("dy", TensorToJs<int32_t, Napi::Int32Array>(env, d.dy.to(torch::kInt)));
    o.Set("dx", TensorToJs<int32_t, Napi::Int32Array>(env, d.dx.to(torch::kInt)));
    o.Set("flip", TensorToJs<uint8_t, Napi::Uint8Array>(env, d.flip.to(torch::kUInt8)));
    return o;
  });
}

// Every running fit, for the exit handler below.
static std::mutex g_jobs_mu;
static std::vector<std::weak_ptr<FitJob>> g_jobs;

// process.exit() (or exit() from anywhere) while a fit runs: exit() destroys libtorch's static objects (oneDNN's
// primitive tables among them) while the training thread may still use them. lib/ calls stopAllFits from
// process.on('exit'), before exit() begins; the atexit registration is a fallback for exits that bypass Node's
// 'exit' event (statics first used after it was registered are destroyed before it runs, hence not enough alone).
// Each fit is aborted (and writes its checkpoint) and its thread joined, with the thread-safe function left
// alone because Node's side of it is being torn down.
static void StopFitsAtExit() {
  std::vector<std::shared_ptr<FitJob>> jobs;
  {
    std::lock_guard<std::mutex> l(g_jobs_mu);
    for (auto& w : g_jobs) {
      if (auto j = w.lock()) jobs.push_back(j);
    }
  }
  for (auto& j : jobs) {
    {
      std::lock_guard<std::mutex> l(j->tsfn_mu);
      j->finalizing = true;
    }
    j->abort = true;
  }
  for (auto& j : jobs) {
    std::lock_guard<std::mutex> jl(j->join_mu);
    if (j->thread.joinable() && j->thread.get_id() != std::this_thread::get_id()) j->thread.join();
  }
}

Napi::Value StopAllFits(const Napi::CallbackInfo& info) {
  StopFitsAtExit();
  return info.Env().Undefined();
}

static void Register(const std::shared_ptr<FitJob>& job) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(StopFitsAtExit); });
  std::lock_guard<std::mutex> l(g_jobs_mu);
  g_jobs.erase(std::remove_if(g_jobs.begin(), g_jobs.end(), [](const std::weak_ptr<FitJob>& w) { return w.expired(); }),
               g_jobs.end());
  g_jobs.push_back(job);
}

Napi::Value Fit(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto model = ModelWrap::StateOf(info[0]);
    auto train = DatasetWrap::StateOf(info[1]);
    std::shared_ptr<DatasetState> eval;
    if (!info[2].IsNull() && !info[2].IsUndefined()) eval = DatasetWrap::StateOf(info[2]);
    if (!info[3].IsObject()) throw TypeErrorEx("fit expects an options object");
    if (!info[4].IsFunction()) throw TypeErrorEx("fit expects an event callback");
    TrainConfig cfg = ParseConfig(info[3].As<Napi::Object>());
    if (cfg.batch > train->labels.size(0)) {
      throw RangeErrorEx("fit: batchSize " + std::to_string(cfg.batch) + " is larger than the training set (" +
                         std::to_string(train->labels.size(0)) + " images)");
    }
    TuneAllocator();
    bool expected = false;
    if (!model->fitting.compare_exchange_strong(expected, true)) {
      throw std::runtime_error("This model is already being trained by another fit");
    }
    auto job = std::make_shared<FitJob>(env);
    job->model = model;
    job->train = train;
    job->eval = eval;
    job->cfg = std::move(cfg);
    auto* holder = new std::shared_ptr<FitJob>(job);
    try {
      job->tsfn = Napi::ThreadSafeFunction::New(
          env, info[4].As<Napi::Function>(), "resnet-cifar:fit", 0, 1,
          [](Napi::Env env, std::shared_ptr<FitJob>* h) {
            std::shared_ptr<FitJob> j = *h;
            delete h;
            {
              std::lock_guard<std::mutex> l(j->tsfn_mu);
              j->finalizing = true;
            }
            j->abort = true;  // env teardown: stop within one iteration (a checkpoint is still written)
            {
              std::lock_guard<std::mutex> jl(j->join_mu);
              if (j->thread.joinable()) j->thread.join();
            }
            if (env == nullptr) return;
            try {
              Napi::HandleScope scope(env);
              if (!j->error.empty()) {
                auto err = Napi::Error::New(env, j->error);
                err.Set("stopped", j->stopped);
                err.Set("iteration", static_cast<double>(j->iteration));
                j->deferred.Reject(err.Value());
                return;
              }
              auto r = Napi::Object::New(env);
              r.Set("iteration", static_cast<double>(j->iteration));
              r.Set("startIteration", static_cast<double>(j->start_iteration));
              r.Set("stopped", j->stopped);
              r.Set("seconds", j->seconds);
              r.Set("checkpoint", j->checkpoint_written.empty() ? env.Null() : Napi::String::New(env, j->checkpoint_written));
              auto tr = Napi::Array::New(env, j->train_history.size());
              for (size_t i = 0; i < j->train_history.size(); ++i) tr.Set(static_cast<uint32_t>(i), TrainToJs(env, j->train_history[i]));
              auto ev = Napi::Array::New(env, j->eval_history.size());
              for (size_t i = 0; i < j->eval_history.size(); ++i) ev.Set(static_cast<uint32_t>(i), EvalToJs(env, j->eval_history[i]));
              r.Set("train", tr);
              r.Set("eval", ev);
              auto n = Napi::Object::New(env);
              n.Set("kind", j->cfg.norm_kind);
              n.Set("mean", TensorToJs<float, Napi::Float32Array>(env, j->cfg.norm.mean.to(torch::kFloat)));
              n.Set("std", TensorToJs<float, Napi::Float32Array>(env, j->cfg.norm.std.to(torch::kFloat)));
              r.Set("normalization", n);
              j->deferred.Resolve(r);
            } catch (...) {
            }
          },
          holder);
    } catch (...) {
      delete holder;
      model->fitting = false;
      throw;
    }
    Register(job);
    job->thread = std::thread([job] {
      job->Run();
      std::lock_guard<std::mutex> l(job->tsfn_mu);
      if (!job->finalizing) job->tsfn.Release();
    });
    auto handle = Napi::Object::New(env);
    handle.Set("promise", job->deferred.Promise());
    std::weak_ptr<FitJob> weak = job;
    handle.Set("abort", Napi::Function::New(env, [weak](const Napi::CallbackInfo& i) -> Napi::Value {
                 if (auto j = weak.lock()) j->abort = true;
                 return i.Env().Undefined();
               }, "abort"));
    return handle;
  });
}

}  // namespace resnet_cifar
