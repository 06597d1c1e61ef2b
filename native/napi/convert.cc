#include "convert.h"

#include <cmath>

#include "../core/base/image_shape.h"
#include "../core/base/limits.h"
#include "args.h"
#include "guard.h"

namespace resnet_cifar {

Napi::Float32Array FloatsToJs(Napi::Env env, const std::vector<float>& v) {
  auto a = Napi::Float32Array::New(env, v.size());
  std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

static c10::IValue ToIValueAt(const Napi::Value& v, const std::string& where, int depth);

c10::IValue ToIValue(const Napi::Value& v, const std::string& where) { return ToIValueAt(v, where, 0); }

// `depth`: the arrays and objects around v. Past kMaxMetaNesting (a cycle, or data no file of ours could read
// back) a RangeError.
static c10::IValue ToIValueAt(const Napi::Value& v, const std::string& where, int depth) {
  if ((v.IsArray() || v.IsObject()) && !v.IsTypedArray() && !v.IsArrayBuffer() && !v.IsFunction() &&
      depth >= kMaxMetaNesting) {
    throw RangeErrorEx(where + " nests deeper than " + std::to_string(kMaxMetaNesting) +
                       " levels of arrays and objects (or holds itself)");
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= static_cast<double>(kMaxSafeInteger)) {
      return static_cast<int64_t>(d);
    }
    return d;
  }
  if (v.IsNull() || v.IsUndefined()) return c10::IValue();
  if (v.IsTypedArray() || v.IsArrayBuffer() || v.IsFunction()) {
    throw TypeErrorEx(where + " holds a value that cannot be stored (typed array or function)");
  }
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    c10::impl::GenericList list(c10::AnyType::get());
    for (uint32_t i = 0; i < a.Length(); ++i) list.push_back(ToIValueAt(a.Get(i), where, depth + 1));
    return list;
  }
  if (v.IsObject()) {
    auto o = v.As<Napi::Object>();
    Meta d = NewMeta();
    auto keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      auto k = keys.Get(i).ToString().Utf8Value();
      d.insert_or_assign(k, ToIValueAt(o.Get(k), where + "." + k, depth + 1));
    }
    return d;
  }
  throw TypeErrorEx(where + " holds a value that cannot be stored");
}

Meta ToMeta(const Napi::Value& v, const std::string& where) {
  if (v.IsUndefined() || v.IsNull()) return NewMeta();
  auto iv = ToIValue(args::Object(v, where), where);
  return iv.toGenericDict();
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
    const auto& t = v.toTensor();
    if (t.is_meta()) return env.Null();  // read without its data
    return TensorToJs<float, Napi::Float32Array>(env, t.detach().to(at::kFloat));
  }
  return env.Undefined();
}

static Napi::Array Numbers(Napi::Env env, size_t n, const std::function<double(size_t)>& at) {
  auto a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) a.Set(static_cast<uint32_t>(i), at(i));
  return a;
}

Napi::Object NormalizationToJs(Napi::Env env, const Normalization& n) {
  auto o = Napi::Object::New(env);
  o.Set("kind", NormKindName(n.kind));
  o.Set("mean", FloatsToJs(env, n.MeanValues()));
  o.Set("std", FloatsToJs(env, n.StdValues()));
  if (auto p = n.PixelShape())
    o.Set("shape", Numbers(env, 3, [&](size_t i) {
            return static_cast<double>(i == 0 ? p->channels : i == 1 ? p->height : p->width);
          }));
  return o;
}

Normalization NormalizationFromJs(const Napi::Value& v, const std::string& what) {
  args::Fields o(v, what);
  std::optional<ImageShape> shape;
  if (o.Has("shape")) {
    const auto s = o.Ints("shape", 1, kMaxImageSide);
    if (s.size() != 3) throw RangeErrorEx(o.Name("shape") + " must be [channels, height, width]");
    shape = ImageShape{s[0], s[1], s[2]};
  }
  return Normalization::FromValues(ParseNormKind(o.String("kind")), o.Floats("mean"), o.Floats("std"), shape);
}

Napi::Object EvalResultToJs(Napi::Env env, const EvalResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("count", static_cast<double>(r.count));
  o.Set("loss", r.MeanLoss());
  o.Set("error", r.Error());
  o.Set("confusion", Numbers(env, r.confusion.size(), [&](size_t i) { return static_cast<double>(r.confusion[i]); }));
  const auto k = static_cast<size_t>(r.classes);
  o.Set("classCounts",
        Numbers(env, k, [&](size_t c) { return static_cast<double>(r.ClassCount(static_cast<int64_t>(c))); }));
  o.Set("classErrors", Numbers(env, k, [&](size_t c) { return r.ClassError(static_cast<int64_t>(c)); }));
  return o;
}

Napi::Object TrainRecordToJs(Napi::Env env, const TrainRecord& r) {
  auto o = Napi::Object::New(env);
  o.Set("iteration", r.iteration);
  o.Set("epoch", r.epoch);
  o.Set("lr", r.lr);
  o.Set("loss", r.loss);
  o.Set("trainError", r.error);
  o.Set("imagesPerSecond", r.images_per_second);
  return o;
}

Napi::Object EvalRecordToJs(Napi::Env env, const EvalRecord& r) {
  auto o = Napi::Object::New(env);
  o.Set("iteration", r.iteration);
  o.Set("error", r.error);
  o.Set("loss", r.loss);
  return o;
}

void SetHistory(Napi::Env env, Napi::Object o, const std::vector<TrainRecord>& train,
                const std::vector<EvalRecord>& eval) {
  auto tr = Napi::Array::New(env, train.size());
  for (size_t i = 0; i < train.size(); ++i) tr.Set(static_cast<uint32_t>(i), TrainRecordToJs(env, train[i]));
  auto ev = Napi::Array::New(env, eval.size());
  for (size_t i = 0; i < eval.size(); ++i) ev.Set(static_cast<uint32_t>(i), EvalRecordToJs(env, eval[i]));
  o.Set("train", tr);
  o.Set("eval", ev);
}

}  // namespace resnet_cifar
