#include "model.h"

#include <cmath>
#include <cstring>

#include "addon.h"
#include "checkpoint.h"
#include "common.h"
#include "dataset.h"

namespace resnet_cifar {

static constexpr int64_t kImage = 3 * 32 * 32;
static std::mutex g_seed_mu;  // torch::manual_seed is process-wide

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {
                         InstanceMethod<&ModelWrap::ParameterCount>("parameterCount"),
                         InstanceMethod<&ModelWrap::Config>("config"),
                         InstanceMethod<&ModelWrap::DeviceName>("device"),
                         InstanceMethod<&ModelWrap::Training>("training"),
                         InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
                         InstanceMethod<&ModelWrap::Meta>("meta"),
                         InstanceMethod<&ModelWrap::Predict>("predict"),
                         InstanceMethod<&ModelWrap::Save>("save"),
                         InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
                         InstanceMethod<&ModelWrap::Evaluate>("evaluate"),
                         InstanceMethod<&ModelWrap::StateDictNames>("stateDictNames"),
                         InstanceMethod<&ModelWrap::Dispose>("dispose"),
                         InstanceMethod<&ModelWrap::Disposed>("disposed"),
                         StaticMethod<&ModelWrap::Load>("load"),
                     });
}

Napi::Object ModelWrap::Wrap(Napi::Env env, std::shared_ptr<ModelState> state) {
  return NewWrapped(env, env.GetInstanceData<AddonData>()->model_ctor, std::move(state));
}

std::shared_ptr<ModelState> ModelWrap::StateOf(const Napi::Value& v) {
  auto ctor = v.Env().GetInstanceData<AddonData>()->model_ctor.Value();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor)) throw TypeErrorEx("Expected a native Model");
  auto* w = Napi::ObjectWrap<ModelWrap>::Unwrap(v.As<Napi::Object>());
  if (!w->state_) throw std::runtime_error("This model has been disposed");
  return w->state_;
}

// new Model({ depth, shortcut, numClasses, device, seed? }) or new Model(External<state>) from C++.
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guard(info, [&]() -> Napi::Value {
    if ((state_ = AdoptedState<ModelState>(info))) return info.Env().Undefined();
    if (info.Length() < 1 || !info[0].IsObject()) throw TypeErrorEx("Model expects an options object");
    auto o = info[0].As<Napi::Object>();
    auto num = [&](const char* k) -> int64_t {
      auto v = o.Get(k);
      if (!v.IsNumber()) throw TypeErrorEx(std::string("Model option ") + k + " must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
        throw RangeErrorEx(std::string("Model option ") + k + " must be an integer");
      }
      return static_cast<int64_t>(d);
    };
    auto str = [&](const char* k) -> std::string {
      auto v = o.Get(k);
      if (!v.IsString()) throw TypeErrorEx(std::string("Model option ") + k + " must be a string");
      return v.As<Napi::String>().Utf8Value();
    };
    auto opts = ResNetOptions(num("depth")).shortcut(ParseShortcut(str("shortcut"))).num_classes(num("numClasses"));
    auto state = std::make_shared<ModelState>();
    state->device = ResolveDevice(str("device"));
    {
      std::unique_lock<std::mutex> seed_lock(g_seed_mu, std::defer_lock);
      if (o.Has("seed") && !o.Get("seed").IsUndefined()) {
        seed_lock.lock();
        torch::manual_seed(static_cast<uint64_t>(num("seed")));
      }
      state->net = ResNet(opts);
      InitWeights(state->net);
    }
    state->net->to(state->device);
    state->net->eval();
    state_ = std::move(state);
    return info.Env().Undefined();
  });
}

std::shared_ptr<ModelState> ModelWrap::Live(const Napi::CallbackInfo& info) const {
  if (!state_) throw Napi::Error::New(info.Env(), "This model has been disposed");
  return state_;
}

Napi::Value ModelWrap::ParameterCount(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return Napi::Number::New(info.Env(), static_cast<double>(s->net->ParameterCount()));
  });
}

Napi::Value ModelWrap::Config(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    auto o = Napi::Object::New(info.Env());
    o.Set("depth", static_cast<double>(s->net->options.depth()));
    o.Set("shortcut", ShortcutName(s->net->options.shortcut()));
    o.Set("numClasses", static_cast<double>(s->net->options.num_classes()));
    return o;
  });
}

Napi::Value ModelWrap::DeviceName(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), resnet_cifar::DeviceName(Live(info)->device)); });
}

Napi::Value ModelWrap::Training(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Live(info)->training.load()); });
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    if (info.Length() < 1 || !info[0].IsBoolean()) throw TypeErrorEx("setTraining expects a boolean");
    s->training = info[0].As<Napi::Boolean>().Value();
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Meta(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return FromIValue(info.Env(), Live(info)->meta); });
}

torch::Tensor InputImages(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 2 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsNumber()) {
    throw TypeErrorEx(std::string(what) + " expects (Float32Array, n)");
  }
  auto arr = info[0].As<Napi::Float32Array>();
  const double nd = info[1].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(nd) || nd != std::floor(nd) || nd < 1 || nd > 1e9) {
    throw RangeErrorEx(std::string(what) + ": n must be a positive integer");
  }
  const int64_t n = static_cast<int64_t>(nd);
  if (static_cast<int64_t>(arr.ElementLength()) != n * kImage) {
    throw RangeErrorEx("Expected input of length n*3*32*32 = " + std::to_string(n * kImage) +
                       " but received " + std::to_string(arr.ElementLength()));
  }
  // Copy now: the caller may reuse the buffer while the forward pass runs.
  return torch::from_blob(arr.Data(), {n, 3, 32, 32}, torch::kFloat).clone();
}

Napi::Value LogitsToJs(Napi::Env env, const std::vector<float>& v) {
  auto r = Napi::Float32Array::New(env, v.size());
  std::memcpy(r.Data(), v.data(), v.size() * sizeof(float));
  return r;
}

Napi::Value RunPredict(const Napi::CallbackInfo& info, const char* name,
                       std::function<torch::Tensor(const torch::Tensor&)> forward) {
  auto input = InputImages(info, "predict");
  auto out = std::make_shared<std::vector<float>>();
  return TaskWorker::Run(
      info.Env(), name,
      [forward, input, out]() {
        torch::NoGradGuard no_grad;
        auto logits = forward(input).to(torch::kCPU).to(torch::kFloat).contiguous();
        out->assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
      },
      [out](Napi::Env env) -> Napi::Value { return LogitsToJs(env, *out); });
}

Napi::Value RunEvaluate(const Napi::CallbackInfo& info, const char* name,
                        std::function<EvalResult(const DatasetState&, int64_t, const Normalization&)> evaluate) {
  auto data = DatasetWrap::StateOf(info[0]);
  const int64_t batch = ArgInt(info, 1, "evaluate: batchSize");
  if (batch < 1) throw RangeErrorEx("evaluate: batchSize must be >= 1");
  Normalization norm = ParseNormalization(info[2], info[3], "evaluate");
  auto out = std::make_shared<EvalResult>();
  return TaskWorker::Run(
      info.Env(), name, [evaluate, data, batch, norm, out]() { *out = evaluate(*data, batch, norm); },
      [out](Napi::Env env) -> Napi::Value { return EvalResultToJs(env, *out); });
}

// predict(Float32Array input NCHW, n) -> Promise<Float32Array n x numClasses>, in the model's current BN mode.
Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return RunPredict(info, "resnet-cifar:predict", [s](const torch::Tensor& x) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->net->train(s->training.load());
      return s->net->forward(x.to(s->device));
    });
  });
}

c10::impl::GenericDict MergedMeta(const c10::impl::GenericDict& stored, const c10::impl::GenericDict& extra) {
  static const char* fixed[] = {"format", "format_version", "depth", "shortcut", "num_classes", "libtorch"};
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : stored) {
    bool skip = false;
    for (const char* f : fixed) skip = skip || (kv.key().isString() && kv.key().toStringRef() == f);
    if (!skip) out.insert_or_assign(kv.key(), kv.value());
  }
  for (const auto& kv : extra) out.insert_or_assign(kv.key(), kv.value());
  return out;
}

// save(path, meta?) -> Promise<void>; atomic, readable by torch.load(weights_only=True).
Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    const std::string path = ArgString(info, 0, "save: path");
    c10::impl::GenericDict extra(c10::StringType::get(), c10::AnyType::get());
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      auto iv = ToIValue(info[1], "save: meta");
      if (!iv.isGenericDict()) throw TypeErrorEx("save: meta must be a plain object");
      extra = iv.toGenericDict();
    }
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:save",
        [s, path, extra]() {
          std::vector<char> bytes;
          {
            std::lock_guard<std::mutex> lock(s->mu);
            bytes = CheckpointBytes(s->net, MergedMeta(s->meta, extra));
          }
          WriteFileAtomic(path, bytes);
        },
        nullptr);
  });
}

// loadStateDict(path) -> Promise<void>; a torch.save'd state dict, or any dict holding one under 'state_dict'.
Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    const std::string path = ArgString(info, 0, "loadStateDict: path");
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:loadStateDict",
        [s, path]() {
          c10::IValue v = LoadPickle(path);
          if (v.isGenericDict()) {
            auto d = v.toGenericDict();
            auto it = d.find(std::string("state_dict"));
            if (it != d.end() && it->value().isGenericDict()) v = it->value();
          }
          std::lock_guard<std::mutex> lock(s->mu);
          ApplyStateDict(s->net, v, path);
        },
        nullptr);
  });
}

// evaluate(dataset, batchSize, mean (3 or 3072 values of pixels/255), std (3 values))
//   -> Promise<{ count, lossSum, confusion: number[numClasses * numClasses] (row = true class) }>
// Eval-mode BN, no grad, in batches; the model's train/eval flag is left as it was.
Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return RunEvaluate(info, "resnet-cifar:evaluate", [s](const DatasetState& data, int64_t batch, const Normalization& norm) {
      std::lock_guard<std::mutex> lock(s->mu);
      auto net = s->net;
      net->eval();
      EvalResult r;
      try {
        r = EvaluateWith([&](const torch::Tensor& x) { return net->forward(x); }, s->device, data.images, data.labels,
                         batch, norm, net->options.num_classes());
      } catch (...) {
        net->train(s->training.load());
        throw;
      }
      net->train(s->training.load());
      return r;
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

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  if (state_) state_->disposed = true;
  state_.reset();  // pending work keeps its own reference and frees the network when it ends
  return info.Env().Undefined();
}

Napi::Value ModelWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

// Model.load(path, device) -> Promise<Model>
Napi::Value ModelWrap::Load(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = ArgString(info, 0, "load: path");
    const std::string device_spec = ArgString(info, 1, "load: device");
    auto state = std::make_shared<ModelState>();
    state->device = ResolveDevice(device_spec);
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:load",
        [state, path]() {
          CheckpointData ck = ReadCheckpoint(path);
          ResNet net(ck.options);
          ApplyStateDict(net, ck.state_dict, path);
          net->to(state->device);
          net->eval();
          state->net = net;
          state->meta = ck.meta;
        },
        [state](Napi::Env env) -> Napi::Value { return ModelWrap::Wrap(env, state); });
  });
}

c10::IValue ToIValue(const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    return d;
  }
  if (v.IsNull() || v.IsUndefined()) return c10::IValue();
  if (v.IsTypedArray() || v.IsArrayBuffer() || v.IsFunction()) {
    throw TypeErrorEx(where + " holds a value that cannot be stored (typed array or function)");
  }
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    c10::impl::GenericList list(c10::AnyType::get());
    for (uint32_t i = 0; i < a.Length(); ++i) list.push_back(ToIValue(a.Get(i), where));
    return list;
  }
  if (v.IsObject()) {
    auto o = v.As<Napi::Object>();
    c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
    auto keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      auto k = keys.Get(i).ToString().Utf8Value();
      d.insert_or_assign(k, ToIValue(o.Get(k), where + "." + k));
    }
    return d;
  }
  throw TypeErrorEx(where + " holds a value that cannot be stored");
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isList()) {
    auto l = v.toListRef();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) a.Set(static_cast<uint32_t>(i), FromIValue(env, l[i]));
    return a;
  }
  if (v.isTuple()) {
    const auto& e = v.toTupleRef().elements();
    auto a = Napi::Array::New(env, e.size());
    for (size_t i = 0; i < e.size(); ++i) a.Set(static_cast<uint32_t>(i), FromIValue(env, e[i]));
    return a;
  }
  if (v.isGenericDict()) {
    auto o = Napi::Object::New(env);
    for (const auto& kv : v.toGenericDict()) {
      if (kv.key().isString()) o.Set(kv.key().toStringRef(), FromIValue(env, kv.value()));
    }
    return o;
  }
  if (v.isTensor()) {
    auto t = v.toTensor().detach().to(torch::kCPU).to(torch::kFloat).contiguous();
    auto a = Napi::Float32Array::New(env, t.numel());
    std::memcpy(a.Data(), t.data_ptr<float>(), t.numel() * sizeof(float));
    return a;
  }
  return env.Undefined();
}

}  // namespace resnet_cifar
