// Shared helpers for the N-API boundary: no C++ exception crosses it, long work runs off the main thread.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

namespace resnet_cifar {

// An error that JS should see as a TypeError / RangeError (bad arguments that slipped past lib/ validation).
struct TypeErrorEx : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct RangeErrorEx : std::out_of_range {
  using std::out_of_range::out_of_range;
};

// libtorch's message without the C++ backtrace.
inline std::string TorchMessage(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  // c10 appends "Exception raised from ..." context lines in some builds; keep the first paragraph.
  auto pos = m.find("\nException raised from");
  if (pos != std::string::npos) m = m.substr(0, pos);
  return m;
}

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
  } catch (const RangeErrorEx& e) {
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

// Runs `work` on the libuv thread pool (plain C++ only, no V8), then `done` on the main thread to build the
// result. Any exception becomes a rejected Promise carrying its message.
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
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

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

// Native objects made from C++ (Model.load, Dataset.loadBatches, …) are constructed through their JS class, which
// adopts the shared state handed over here. The constructor runs synchronously inside New(), on this thread, so
// the hand-over is a thread-local pointer: no External is created, hence nothing that only a garbage collection
// would free (valgrind counted such blocks as lost at exit).
template <class State>
inline thread_local std::shared_ptr<State>* adopting_state = nullptr;

template <class State>
Napi::Object NewWrapped(Napi::Env env, const Napi::FunctionReference& ctor, std::shared_ptr<State> state) {
  (void)env;
  adopting_state<State> = &state;
  try {
    Napi::Object o = ctor.New({});
    adopting_state<State> = nullptr;
    return o;
  } catch (...) {
    adopting_state<State> = nullptr;
    throw;
  }
}

template <class State>
std::shared_ptr<State> AdoptedState(const Napi::CallbackInfo& info) {
  (void)info;
  std::shared_ptr<State>* p = adopting_state<State>;
  adopting_state<State> = nullptr;
  return p ? *p : nullptr;
}

// "auto" | "cpu" | "cuda" | "cuda:N" -> a device that exists here; throws a clear error otherwise.
// A copy of t's elements (on the CPU, in contiguous order) as a JS typed array A of element type T.
template <class T, class A>
A TensorToJs(Napi::Env env, const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).contiguous();
  auto a = A::New(env, c.numel());
  std::memcpy(a.Data(), c.data_ptr<T>(), c.numel() * sizeof(T));
  return a;
}

torch::Device ResolveDevice(const std::string& spec);
std::string DeviceName(const torch::Device& d);

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what);

}  // namespace resnet_cifar
