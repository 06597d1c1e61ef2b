// The JS face of core/train/fit.h: fit(model, train, eval, options, onEvent) runs a FitLoop on its own std::thread over
// plain C++ state; its reports reach JS as events through a Napi::ThreadSafeFunction, and the last call settles
// the Promise, so neither side waits on the other. Also trainingBatch (one batch a fit would train on), and the
// registry that stops every running fit when the process exits.
#include <napi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/model/device.h"
#include "../core/train/fit.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"

namespace resnet_cifar {

namespace {

// Options as lib/trainer.ts sends them (NativeFitOptions in lib/native.ts).
FitConfig FitConfigFromJs(const Napi::Value& v) {
  args::Fields o(v, "fit options");
  FitConfig c;
  c.iterations = o.Int("iterations", 0);
  c.batches.batch = o.Int("batchSize", 1);
  c.batches.seed = static_cast<uint64_t>(o.Int("seed", 0));
  c.batches.channels_last = o.Bool("channelsLast");
  if (o.Has("genericBatch")) c.batches.generic = o.Bool("genericBatch");
  c.sgd.momentum = o.Number("momentum");
  c.sgd.weight_decay = o.Number("weightDecay");
  c.schedule.lr = o.Number("lr");
  c.schedule.milestones = o.Ints("milestones", 0, kMaxSafeInteger);
  c.schedule.gamma = o.Number("gamma");
  c.schedule.warmup_lr = o.Number("warmupLr");
  c.schedule.warmup_iterations = o.Int("warmupIterations", 0);
  c.schedule.warmup_until_error = o.Number("warmupUntilError");
  c.report_every = o.Int("reportEvery", 1);
  c.eval_every = o.Int("evalEvery", 0);
  c.eval_batch = o.Int("evalBatchSize", 1);
  c.checkpoint_path = o.String("checkpointPath");
  c.checkpoint_every = o.Int("checkpointEvery", 0);
  c.resume = o.Bool("resume");
  if (o.Has("fusedBatchNorm")) c.fused_bn = o.Bool("fusedBatchNorm");
  if (o.Has("cudaGraphs")) c.cuda_graphs = o.Bool("cudaGraphs");
  c.step_only = o.Bool("stepOnly");
  if (o.Has("precision")) c.precision = ParsePrecision(o.String("precision"));
  Napi::Value norm = o.Get("normalization");
  if (norm.IsString()) {
    c.normalization_kind = ParseNormKind(norm.As<Napi::String>().Utf8Value());
  } else {
    c.normalization = NormalizationFromJs(norm, o.Name("normalization"));
    c.normalization_kind = c.normalization->kind;
  }
  c.meta = ToMeta(o.Get("meta"), o.Name("meta"));
  if (o.Has("distributed")) {
    args::Fields d(o.Get("distributed"), o.Name("distributed"));
    DistributedOptions dist;
    dist.world_size = d.Int("worldSize", 1, 65536);
    dist.rank = d.Int("rank", 0, dist.world_size - 1);
    dist.master_addr = d.String("masterAddr");
    dist.master_port = d.Int("masterPort", 1, 65535);
    dist.agent_store = d.Bool("agentStore");
    dist.timeout_ms = d.Int("timeoutMs", 1, 86400000);
    dist.sync_batch_norm = d.Bool("syncBatchNorm");
    c.distributed = dist;
    c.batches.rank = dist.rank;
    c.batches.world_size = dist.world_size;
  }
  return c;
}

class FitJob;

struct Event {
  enum Kind { kTrain, kEval, kCheckpoint, kDone } kind;
  explicit Event(Kind k) : kind(k) {}
  TrainRecord train{};
  double elapsed = 0;
  int64_t iteration = 0;
  EvalResult eval;
  std::string path;
  std::shared_ptr<FitJob> job;  // kDone: the job whose result settles the Promise
};

class FitJob : public FitObserver {
 public:
  FitJob(Napi::Env env, std::shared_ptr<ModelState> model, std::shared_ptr<const Dataset> train,
         std::shared_ptr<const Dataset> eval, FitConfig cfg)
      : deferred(Napi::Promise::Deferred::New(env)),
        model(model),
        loop(std::move(model), std::move(train), std::move(eval), std::move(cfg), *this) {}

  void OnTrain(const TrainRecord& r, double elapsed) override {
    auto* e = new Event(Event::kTrain);
    e->train = r;
    e->elapsed = elapsed;
    Post(e);
  }
  void OnEval(int64_t iteration, const EvalResult& r) override {
    auto* e = new Event(Event::kEval);
    e->iteration = iteration;
    e->eval = r;
    Post(e);
  }
  void OnCheckpoint(int64_t iteration, const std::string& path) override {
    auto* e = new Event(Event::kCheckpoint);
    e->iteration = iteration;
    e->path = path;
    Post(e);
  }

  void Post(Event* e) {
    std::lock_guard<std::mutex> l(tsfn_mu);
    if (finalizing || tsfn.NonBlockingCall(e, &FitJob::Deliver) != napi_ok) delete e;
  }

  // Stops the fit and waits for its thread, with the thread-safe function left alone (env teardown or exit).
  void StopAndJoin() {
    {
      std::lock_guard<std::mutex> l(tsfn_mu);
      finalizing = true;
    }
    loop.Abort();
    Join();
  }

  void Join() {
    std::lock_guard<std::mutex> l(join_mu);
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }

  static void Deliver(Napi::Env env, Napi::Function callback, Event* raw);

  Napi::Promise::Deferred deferred;
  std::shared_ptr<ModelState> model;
  FitLoop loop;
  FitResult result;
  std::thread thread;
  Napi::ThreadSafeFunction tsfn;
  std::mutex tsfn_mu;  // guards tsfn use against its finalizer
  std::mutex join_mu;  // the finalizer, the last event and the exit handler may each try to join the thread
  bool finalizing = false;
};

Napi::Object ResultToJs(Napi::Env env, const FitResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("iteration", static_cast<double>(r.iteration));
  o.Set("startIteration", static_cast<double>(r.start_iteration));
  o.Set("stopped", StopName(r.stopped));
  o.Set("seconds", r.seconds);
  o.Set("checkpoint", r.checkpoint.empty() ? env.Null() : Napi::String::New(env, r.checkpoint));
  SetHistory(env, o, r.train, r.eval);
  o.Set("normalization", r.normalization ? Napi::Value(NormalizationToJs(env, *r.normalization)) : env.Null());
  auto notes = Napi::Array::New(env, r.notes.size());
  for (size_t i = 0; i < r.notes.size(); ++i) notes.Set(static_cast<uint32_t>(i), r.notes[i]);
  o.Set("notes", notes);
  return o;
}

void FitJob::Deliver(Napi::Env env, Napi::Function callback, Event* raw) {
  std::unique_ptr<Event> e(raw);
  if (env == nullptr) return;
  Napi::HandleScope scope(env);
  try {
    Napi::Object o;
    switch (e->kind) {
      case Event::kTrain:
        o = TrainRecordToJs(env, e->train);
        o.Set("kind", "train");
        o.Set("elapsed", e->elapsed);
        break;
      case Event::kEval:
        o = EvalResultToJs(env, e->eval);
        o.Set("kind", "eval");
        o.Set("iteration", static_cast<double>(e->iteration));
        break;
      case Event::kCheckpoint:
        o = Napi::Object::New(env);
        o.Set("kind", "checkpoint");
        o.Set("iteration", static_cast<double>(e->iteration));
        o.Set("path", e->path);
        break;
      case Event::kDone: {
        FitJob& j = *e->job;
        j.Join();  // the thread has finished its work; it only releases the function on its way out
        if (!j.result.error.empty()) {
          auto err = Napi::Error::New(env, j.result.error);
          err.Set("stopped", StopName(j.result.stopped));
          err.Set("iteration", static_cast<double>(j.result.iteration));
          j.deferred.Reject(err.Value());
        } else {
          j.deferred.Resolve(ResultToJs(env, j.result));
        }
        return;
      }
    }
    callback.Call({o});
  } catch (const Napi::Error&) {
    // lib/ wraps user callbacks and turns their errors into an abort; nothing may unwind into N-API here.
  }
}

// Every running fit, for the exit handler below.
std::mutex g_jobs_mu;
std::vector<std::weak_ptr<FitJob>> g_jobs;

// process.exit() (or exit() from anywhere) while a fit runs: exit() destroys libtorch's static objects (oneDNN's
// primitive tables among them) while the training thread may still use them. lib/ calls stopAllFits from
// process.on('exit'), before exit() begins; the atexit registration is a fallback for exits that bypass Node's
// 'exit' event. Each fit is aborted (and writes its checkpoint) and its thread joined.
void StopFitsAtExit() {
  std::vector<std::shared_ptr<FitJob>> jobs;
  {
    std::lock_guard<std::mutex> l(g_jobs_mu);
    for (auto& w : g_jobs) {
      if (auto j = w.lock()) jobs.push_back(j);
    }
  }
  for (auto& j : jobs) j->StopAndJoin();
}

void Register(const std::shared_ptr<FitJob>& job) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(StopFitsAtExit); });
  std::lock_guard<std::mutex> l(g_jobs_mu);
  g_jobs.erase(std::remove_if(g_jobs.begin(), g_jobs.end(), [](const std::weak_ptr<FitJob>& w) { return w.expired(); }),
               g_jobs.end());
  g_jobs.push_back(job);
}

}  // namespace

Napi::Value StopAllFits(const Napi::CallbackInfo& info) {
  StopFitsAtExit();
  return info.Env().Undefined();
}

// fit(model, train, eval | null, options, onEvent) -> { promise, abort() }
Napi::Value Fit(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto model = ModelOf(args::At(info, 0));
    auto train = DatasetOf(args::At(info, 1));
    std::shared_ptr<const Dataset> eval;
    if (!args::At(info, 2).IsNull() && !args::At(info, 2).IsUndefined()) eval = DatasetOf(info[2]);
    FitConfig cfg = FitConfigFromJs(args::At(info, 3));
    Napi::Function on_event = args::Function(args::At(info, 4), "fit: onEvent");
    bool expected = false;
    if (!model->fitting.compare_exchange_strong(expected, true)) {
      throw std::runtime_error("This model is already being trained by another fit");
    }
    auto job = std::make_shared<FitJob>(env, model, train, eval, std::move(cfg));
    auto* holder = new std::shared_ptr<FitJob>(job);
    try {
      job->tsfn = Napi::ThreadSafeFunction::New(
          env, on_event, "resnet-cifar:fit", 0, 1,
          [](Napi::Env, std::shared_ptr<FitJob>* h) {
            std::shared_ptr<FitJob> j = *h;
            delete h;
            j->StopAndJoin();  // after the last event: the thread has ended; at env teardown: stop it now
          },
          holder);
    } catch (...) {
      delete holder;
      model->fitting = false;
      throw;
    }
    Register(job);
    job->thread = std::thread([job] {
      job->result = job->loop.Run();
      job->model->fitting = false;
      std::lock_guard<std::mutex> l(job->tsfn_mu);
      if (job->finalizing) return;
      auto* done = new Event(Event::kDone);
      done->job = job;
      if (job->tsfn.NonBlockingCall(done, &FitJob::Deliver) != napi_ok) delete done;
      job->tsfn.Release();
    });
    auto handle = Napi::Object::New(env);
    handle.Set("promise", job->deferred.Promise());
    std::weak_ptr<FitJob> weak = job;
    handle.Set("abort", Napi::Function::New(
                            env,
                            [weak](const Napi::CallbackInfo& i) -> Napi::Value {
                              if (auto j = weak.lock()) j->loop.Abort();
                              return i.Env().Undefined();
                            },
                            "abort"));
    return handle;
  });
}

// trainingBatch(dataset, options, iteration, device?) -> Promise<{ input, labels, index, dy, dx, flip }>: exactly
// the batch a fit with these options trains on at `iteration`, built on `device` (default the CPU; the GPU checks
// compare the two), returned in NCHW order.
Napi::Value TrainingBatch(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto data = DatasetOf(args::At(info, 0));
    FitConfig cfg = FitConfigFromJs(args::At(info, 1));
    const int64_t it = args::Int(args::At(info, 2), "trainingBatch: iteration", 0);
    const c10::Device device = args::At(info, 3).IsUndefined()
                                   ? c10::Device(c10::kCPU)
                                   : ResolveDevice(args::String(info[3], "trainingBatch: device"));
    if (cfg.batches.batch > data->size()) throw RangeErrorEx("trainingBatch: batchSize is larger than the dataset");
    struct Out {
      Batch batch;
      BatchDraw draw;
    };
    auto out = std::make_shared<Out>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:trainingBatch",
        [data, cfg, it, device, out] {
          Normalization norm = cfg.normalization ? *cfg.normalization : data->Statistics(cfg.normalization_kind);
          BatchMaker maker(*data, norm, cfg.batches, device);
          out->batch = maker.Make(it, &out->draw);
        },
        [out](Napi::Env env) -> Napi::Value {
          const auto& d = out->draw;
          auto o = Napi::Object::New(env);
          o.Set("input", TensorToJs<float, Napi::Float32Array>(env, out->batch.x));
          o.Set("labels", TensorToJs<int32_t, Napi::Int32Array>(env, out->batch.y.to(at::kInt)));
          o.Set("index", TensorToJs<int32_t, Napi::Int32Array>(env, d.index.to(at::kInt)));
          o.Set("dy", TensorToJs<int32_t, Napi::Int32Array>(env, d.dy.to(at::kInt)));
          o.Set("dx", TensorToJs<int32_t, Napi::Int32Array>(env, d.dx.to(at::kInt)));
          o.Set("flip", TensorToJs<uint8_t, Napi::Uint8Array>(env, d.flip.to(at::kByte)));
          return o;
        });
  });
}

}  // namespace resnet_cifar
