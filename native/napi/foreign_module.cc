// The JS ForeignModule class over core/model/foreign_module.h (TorchScript modules and AOTInductor packages).
#include <napi.h>

#include "../core/model/device.h"
#include "../core/model/foreign_module.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"
#include "inference.h"
#include "wrap.h"

namespace resnet_cifar {

namespace {

class ForeignWrap : public Napi::ObjectWrap<ForeignWrap> {
 public:
  explicit ForeignWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ForeignWrap>(info) {
    Guard(info, [&]() -> Napi::Value {
      state_ = AdoptedState<ForeignModule>();
      if (!state_) throw TypeErrorEx("ForeignModules are made by ForeignModule.loadTorchScript / loadExported");
      return info.Env().Undefined();
    });
  }

  // predict and evaluate: inference.h (a module has no normalization of its own: evaluate is always given one).
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = Live(info);
      return PredictJs(info, "resnet-cifar:foreign-predict", 3,
                       [s](const at::Tensor& x, Precision p) { return ForeignPredict(*s, x, p); });
    });
  }

  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = Live(info);
      return EvaluateJs(info, "resnet-cifar:foreign-evaluate", nullptr,
                        [s](const Dataset& d, int64_t b, const Normalization& n, Precision p) {
                          return ForeignEvaluate(*s, d, b, n, p);
                        });
    });
  }

  Napi::Value NumClasses(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(Live(info)->num_classes));
    });
  }

  Napi::Value DeviceName(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      return Napi::String::New(info.Env(), resnet_cifar::DeviceName(Live(info)->device));
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

  // loadTorchScript(path, device) / loadExported(path, device) -> Promise<ForeignModule>
  template <std::shared_ptr<ForeignModule> (*Loader)(const std::string&, c10::Device)>
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const std::string path = args::String(args::At(info, 0), "load: path");
      const auto device = ResolveDevice(args::String(args::At(info, 1), "load: device"));
      auto state = std::make_shared<std::shared_ptr<ForeignModule>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:foreign-load", [state, path, device] { *state = Loader(path, device); },
          [state](Napi::Env env) -> Napi::Value { return NewWrapped(Data(env).foreign_ctor, *state); });
    });
  }

 private:
  std::shared_ptr<ForeignModule> Live(const Napi::CallbackInfo& info) const {
    if (!state_) throw Napi::Error::New(info.Env(), "This model has been disposed");
    return state_;
  }
  std::shared_ptr<ForeignModule> state_;
};

}  // namespace

Napi::Function DefineForeignModule(Napi::Env env) {
  return ForeignWrap::DefineClass(
      env, "ForeignModule",
      {
          ForeignWrap::InstanceMethod<&ForeignWrap::Predict>("predict"),
          ForeignWrap::InstanceMethod<&ForeignWrap::Evaluate>("evaluate"),
          ForeignWrap::InstanceMethod<&ForeignWrap::NumClasses>("numClasses"),
          ForeignWrap::InstanceMethod<&ForeignWrap::DeviceName>("device"),
          ForeignWrap::InstanceMethod<&ForeignWrap::Dispose>("dispose"),
          ForeignWrap::InstanceMethod<&ForeignWrap::Disposed>("disposed"),
          ForeignWrap::StaticMethod<&ForeignWrap::Load<&LoadTorchScript>>("loadTorchScript"),
          ForeignWrap::StaticMethod<&ForeignWrap::Load<&LoadExported>>("loadExported"),
      });
}

}  // namespace resnet_cifar
