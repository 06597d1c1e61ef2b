// The JS-facing model object. Its state is plain C++ shared with worker threads (sharp's pattern).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "dataset.h"
#include "resnet.h"

namespace resnet_cifar {

struct ModelState {
  std::mutex mu;  // held by whichever thread runs the network
  ResNet net{nullptr};
  torch::Device device{torch::kCPU};
  std::atomic<bool> training{false};
  std::atomic<bool> fitting{false};   // a Trainer owns the weights until its fit settles
  std::atomic<bool> disposed{false};  // set by dispose(): a running fit stops at the next iteration
  c10::impl::GenericDict meta{c10::StringType::get(), c10::AnyType::get()};  // from the checkpoint it came from
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<ModelState> state);
  // For other native operations (trainer, evaluation): the state behind a JS Model, or a TypeError.
  static std::shared_ptr<ModelState> StateOf(const Napi::Value& v);

  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<ModelState> Live(const Napi::CallbackInfo& info) const;
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value Training(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value Meta(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value StateDictNames(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  static Napi::Value Load(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelState> state_;
};

// (Float32Array NCHW, n) arguments of predict, checked and copied.
torch::Tensor InputImages(const Napi::CallbackInfo& info, const char* what);
Napi::Value LogitsToJs(Napi::Env env, const std::vector<float>& v);
// The asynchronous halves of predict and evaluate shared by models and TorchScript modules: arguments checked
// here, `forward` / `evaluate` run on a worker thread (they take their own locks).
Napi::Value RunPredict(const Napi::CallbackInfo& info, const char* name,
                       std::function<torch::Tensor(const torch::Tensor&)> forward);
Napi::Value RunEvaluate(const Napi::CallbackInfo& info, const char* name,
                        std::function<EvalResult(const DatasetState&, int64_t, const Normalization&)> evaluate);

// Checkpoint meta for a save: what the model carries (e.g. its training normalization) without the fixed
// format/config keys, then `extra` on top.
c10::impl::GenericDict MergedMeta(const c10::impl::GenericDict& stored, const c10::impl::GenericDict& extra);

// JS value <-> IValue for checkpoint meta (numbers, strings, booleans, arrays, plain objects).
c10::IValue ToIValue(const Napi::Value& v, const std::string& where);
Napi::Value FromIValue(Napi::Env env, const c10::IValue& v);

}  // namespace resnet_cifar
