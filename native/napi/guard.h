// The N-API boundary's two rules: no C++ exception crosses it, and long work runs off the main thread.
#pragma once

#include <napi.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "../core/base/errors.h"

namespace resnet_cifar {

// Errors that JS sees as a TypeError / RangeError: arguments that slipped past lib/'s checks (args.h throws them).
struct TypeErrorEx : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct RangeErrorEx : std::out_of_range {
  using std::out_of_range::out_of_range;
};

// Converts whatever the body throws into a pending JS exception (used by every synchronous entry point).
template <class Fn>
Napi::Value Guard(const Napi::CallbackInfo& info, Fn&& fn) {
  Napi::Env env = info.Env();
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const TypeErrorEx& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::out_of_range& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, TorchMessage(e));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "resnet-cifar: unknown native error");
  }
}

// The one generic worker (sharp's pattern): `work` runs on the libuv thread pool over plain C++ state (no V8),
// then `done` on the main thread builds the result. Any exception becomes a rejected Promise with its message.
class TaskWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Run(Napi::Env env, const char* name, Work work, Done done) {
    auto* w = new TaskWorker(env, name, std::move(work), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Napi::AsyncWorker::Queue();
    return p;
  }

 protected:
  TaskWorker(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {}

  void Execute() override {
    try {
      work_();
    } catch (const c10::Error& e) {
      SetError(TorchMessage(e));
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("resnet-cifar: unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, e.what()).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
};

}  // namespace resnet_cifar
