// The JS Model class over core/model/model.h.
#include <napi.h>

#include "../core/model/device.h"
#include "../core/model/model.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"
#include "inference.h"
#include "wrap.h"

namespace resnet_cifar {

namespace {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  explicit ModelWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<ModelState> state() const { return state_; }

  Napi::Value ParameterCount(const Napi::CallbackInfo& info);
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value Training(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value Meta(const Napi::CallbackInfo& info);
  Napi::Value GetNormalization(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value StateDictNames(const Napi::CallbackInfo& info);
  Napi::Value StateDictTensors(const Napi::CallbackInfo& info);
  Napi::Value ResetClassifier(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  static Napi::Value Load(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<ModelState> Live(const Napi::CallbackInfo& info) const {
    if (!state_) throw Napi::Error::New(info.Env(), "This model has been disposed");
    return state_;
  }
  std::shared_ptr<ModelState> state_;
};

// new Model({ depth, shortcut, numClasses, inChannels?, device, seed? }), or a loaded model handed over by NewWrapped.
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guard(info, [&]() -> Napi::Value {
    if ((state_ = AdoptedState<ModelState>())) return info.Env().Undefined();
    args::Fields o(args::At(info, 0), "Model options");
    auto options = ResNetOptions(o.Int("depth", kMinDepth, kMaxDepth))
                       .shortcut(ParseShortcut(o.String("shortcut")))
                       .num_classes(o.Int("numClasses", 1, kMaxClasses));
    if (o.Has("inChannels")) options.in_channels(o.Int("inChannels", 1, 3));
    std::optional<uint64_t> seed;
    if (o.Has("seed")) seed = static_cast<uint64_t>(o.Int("seed", 0));
    state_ = NewModel(options, ResolveDevice(o.String("device")), seed);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::ParameterCount(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(Live(info)->net->ParameterCount()));
  });
}

Napi::Value ModelWrap::Config(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const auto& o = Live(info)->net->options;
    auto r = Napi::Object::New(info.Env());
    r.Set("depth", static_cast<double>(o.depth()));
    r.Set("shortcut", ShortcutName(o.shortcut()));
    r.Set("numClasses", static_cast<double>(o.num_classes()));
    r.Set("inChannels", static_cast<double>(o.in_channels()));
    return r;
  });
}

Napi::Value ModelWrap::DeviceName(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), resnet_cifar::DeviceName(Live(info)->device));
  });
}

Napi::Value ModelWrap::Training(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Live(info)->training.load()); });
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Live(info)->training = args::Bool(args::At(info, 0), "setTraining: on");
    return info.Env().Undefined();
  });
}

// The meta a checkpoint of this model holds (format keys, normalization, the meta it was loaded with).
Napi::Value ModelWrap::Meta(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    std::lock_guard<std::mutex> lock(s->mu);
    return FromIValue(info.Env(), FullMeta(s->net->options, s->meta, s->normalization));
  });
}

Napi::Value ModelWrap::GetNormalization(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    std::lock_guard<std::mutex> lock(s->mu);
    return s->normalization ? Napi::Value(NormalizationToJs(info.Env(), *s->normalization)) : info.Env().Null();
  });
}

// predict and evaluate: inference.h.
Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return PredictJs(info, "resnet-cifar:predict", s->net->options.in_channels(),
                     [s](const at::Tensor& x, Precision p) { return resnet_cifar::Predict(*s, x, p); });
  });
}

// save(path, meta?, normalization?, format?) -> Promise<void>; atomic; format 'checkpoint' (default), 'safetensors',
// 'state-dict' or 'akamaster' (checkpoint.h).
Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    const std::string path = args::String(args::At(info, 0), "save: path");
    resnet_cifar::Meta extra = ToMeta(args::At(info, 1), "save: meta");
    std::optional<Normalization> norm;
    if (!args::At(info, 2).IsUndefined() && !args::At(info, 2).IsNull())
      norm = NormalizationFromJs(info[2], "save: normalization");
    const WeightsFormat format = args::At(info, 3).IsUndefined()
                                     ? WeightsFormat::kCheckpoint
                                     : ParseWeightsFormat(args::String(info[3], "save: format"));
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:save", [s, path, extra, norm, format] { SaveModel(*s, path, extra, norm, format); },
        nullptr);
  });
}

// loadStateDict(path) -> Promise<void>
Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    const std::string path = args::String(args::At(info, 0), "loadStateDict: path");
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:loadStateDict", [s, path] { LoadStateDictFile(*s, path); }, nullptr);
  });
}

Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return EvaluateJs(
        info, "resnet-cifar:evaluate",
        [s]() {
          std::lock_guard<std::mutex> lock(s->mu);
          return s->normalization;
        },
        [s](const Dataset& d, int64_t b, const Normalization& n, Precision p) {
          return EvaluateModel(*s, d, b, n, p);
        });
  });
}

Napi::Value ModelWrap::StateDictNames(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    std::lock_guard<std::mutex> lock(s->mu);
    auto arr = Napi::Array::New(info.Env());
    uint32_t i = 0;
    for (const auto& p : s->net->named_parameters(true)) arr.Set(i++, p.key());
    for (const auto& b : s->net->named_buffers(true)) arr.Set(i++, b.key());
    return arr;
  });
}

// stateDictTensors() -> Promise<{ name: Float32Array }>: a float32 copy of every parameter and buffer, taken on a
// worker thread after the model's pending work.
Napi::Value ModelWrap::StateDictTensors(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    auto out = std::make_shared<std::vector<std::pair<std::string, at::Tensor>>>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:stateDictTensors", [s, out] { *out = StateDictSnapshot(*s); },
        [out](Napi::Env env) -> Napi::Value {
          auto o = Napi::Object::New(env);
          for (const auto& [name, t] : *out) o.Set(name, TensorToJs<float, Napi::Float32Array>(env, t));
          return o;
        });
  });
}

// resetClassifier(numClasses, seed?): a new head, the rest kept (fine-tuning).
Napi::Value ModelWrap::ResetClassifier(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const int64_t k = args::Int(args::At(info, 0), "resetClassifier: numClasses", 1, kMaxClasses);
    std::optional<uint64_t> seed;
    if (!args::At(info, 1).IsUndefined())
      seed = static_cast<uint64_t>(args::Int(args::At(info, 1), "resetClassifier: seed", 0));
    resnet_cifar::ResetClassifier(*Live(info), k, seed);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  if (state_) state_->disposed = true;
  state_.reset();  // pending work keeps its own reference and frees the network when it ends
  return info.Env().Undefined();
}

Napi::Value ModelWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

// Model.load(path, device, shortcutHint?) -> Promise<Model>: our checkpoints and foreign state dicts alike.
Napi::Value ModelWrap::Load(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = args::String(args::At(info, 0), "load: path");
    const auto device = ResolveDevice(args::String(args::At(info, 1), "load: device"));
    const std::string hint = args::At(info, 2).IsUndefined() ? "" : args::String(info[2], "load: shortcut");
    auto state = std::make_shared<std::shared_ptr<ModelState>>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:load", [state, path, device, hint] { *state = LoadModel(path, device, hint); },
        [state](Napi::Env env) -> Napi::Value { return NewWrapped(Data(env).model_ctor, *state); });
  });
}

}  // namespace

Napi::Function DefineModel(Napi::Env env) {
  return ModelWrap::DefineClass(env, "Model",
                                {
                                    ModelWrap::InstanceMethod<&ModelWrap::ParameterCount>("parameterCount"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Config>("config"),
                                    ModelWrap::InstanceMethod<&ModelWrap::DeviceName>("device"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Training>("training"),
                                    ModelWrap::InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Meta>("meta"),
                                    ModelWrap::InstanceMethod<&ModelWrap::GetNormalization>("normalization"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Predict>("predict"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Save>("save"),
                                    ModelWrap::InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Evaluate>("evaluate"),
                                    ModelWrap::InstanceMethod<&ModelWrap::StateDictNames>("stateDictNames"),
                                    ModelWrap::InstanceMethod<&ModelWrap::StateDictTensors>("stateDictTensors"),
                                    ModelWrap::InstanceMethod<&ModelWrap::ResetClassifier>("resetClassifier"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                    ModelWrap::InstanceMethod<&ModelWrap::Disposed>("disposed"),
                                    ModelWrap::StaticMethod<&ModelWrap::Load>("load"),
                                });
}

std::shared_ptr<ModelState> ModelOf(const Napi::Value& v) {
  auto s = StateOf<ModelWrap, ModelState>(v, Data(v.Env()).model_ctor, "Model");
  if (!s) throw Napi::Error::New(v.Env(), "This model has been disposed");
  return s;
}

}  // namespace resnet_cifar
