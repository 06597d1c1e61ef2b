// The JS ScriptModule class over core/script_module.h.
#include <napi.h>

#include "../core/device.h"
#include "../core/script_module.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"
#include "wrap.h"

namespace resnet_cifar {

namespace {

class ScriptWrap : public Napi::ObjectWrap<ScriptWrap> {
 public:
  explicit ScriptWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ScriptWrap>(info) {
    Guard(info, [&]() -> Napi::Value {
      state_ = AdoptedState<ScriptState>();
      if (!state_) throw TypeErrorEx("ScriptModules are made by ScriptModule.load");
      return info.Env().Undefined();
    });
  }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = Live(info);
      auto input = args::Images(args::At(info, 0), args::At(info, 1), "predict");
      const Precision precision = ParsePrecision(args::String(args::At(info, 2), "predict: precision"));
      auto out = std::make_shared<at::Tensor>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:script-predict", [s, input, precision, out] { *out = ScriptPredict(*s, input, precision); },
          [out](Napi::Env env) -> Napi::Value { return TensorToJs<float, Napi::Float32Array>(env, *out); });
    });
  }

  // evaluate(dataset, batchSize, normalization, precision) -> Promise<evaluation>
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = Live(info);
      auto data = DatasetOf(args::At(info, 0));
      const int64_t batch = args::Int(args::At(info, 1), "evaluate: batchSize", 1);
      const Normalization norm = NormalizationFromJs(args::At(info, 2), "evaluate: normalization");
      const Precision precision = ParsePrecision(args::String(args::At(info, 3), "evaluate: precision"));
      auto out = std::make_shared<EvalResult>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:script-evaluate",
          [s, data, batch, norm, precision, out] { *out = ScriptEvaluate(*s, *data, batch, norm, precision); },
          [out](Napi::Env env) -> Napi::Value { return EvalResultToJs(env, *out); });
    });
  }

  Napi::Value NumClasses(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(Live(info)->num_classes)); });
  }

  Napi::Value DeviceName(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), resnet_cifar::DeviceName(Live(info)->device)); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

  // ScriptModule.load(path, device) -> Promise<ScriptModule>
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const std::string path = args::String(args::At(info, 0), "loadTorchScript: path");
      const auto device = ResolveDevice(args::String(args::At(info, 1), "loadTorchScript: device"));
      auto state = std::make_shared<std::shared_ptr<ScriptState>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:script-load", [state, path, device] { *state = LoadScriptModule(path, device); },
          [state](Napi::Env env) -> Napi::Value { return NewWrapped(Data(env).script_ctor, *state); });
    });
  }

 private:
  std::shared_ptr<ScriptState> Live(const Napi::CallbackInfo& info) const {
    if (!state_) throw Napi::Error::New(info.Env(), "This TorchScript model has been disposed");
    return state_;
  }
  std::shared_ptr<ScriptState> state_;
};

}  // namespace

Napi::Function DefineScriptModule(Napi::Env env) {
  return ScriptWrap::DefineClass(env, "ScriptModule",
                                 {
                                     ScriptWrap::InstanceMethod<&ScriptWrap::Predict>("predict"),
                                     ScriptWrap::InstanceMethod<&ScriptWrap::Evaluate>("evaluate"),
                                     ScriptWrap::InstanceMethod<&ScriptWrap::NumClasses>("numClasses"),
                                     ScriptWrap::InstanceMethod<&ScriptWrap::DeviceName>("device"),
                                     ScriptWrap::InstanceMethod<&ScriptWrap::Dispose>("dispose"),
                                     ScriptWrap::InstanceMethod<&ScriptWrap::Disposed>("disposed"),
                                     ScriptWrap::StaticMethod<&ScriptWrap::Load>("load"),
                                 });
}

}  // namespace resnet_cifar
