// The JS face of core/train/fit.h: fit(model, train, eval, options, onEvent) runs a FitLoop on its own std::thread over
// plain C++ state; its reports reach JS as events through a Napi::ThreadSafeFunction, and the last call settles
// the Promise, so neither side waits on the other. The options are converted by fit_options.cc; every running fit
// is registered to be stopped at exit (exit_registry.h).
#include <napi.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/model/device.h"
#include "../core/train/fit.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "exit_registry.h"
#include "fit_options.h"
#include "guard.h"

namespace resnet_cifar {

namespace {

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

class FitJob : public FitObserver, public StoppableJob {
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
  void StopAndJoin() override {
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

}  // namespace

Napi::Value StopAllFits(const Napi::CallbackInfo& info) {
  StopAllJobs();
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
    StopAtExit(job);
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

}  // namespace resnet_cifar
