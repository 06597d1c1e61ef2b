#include "args.h"

#include <ATen/ATen.h>

#include <cmath>

#include "../core/base/image_shape.h"

namespace resnet_cifar {
namespace args {

std::string String(const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw TypeErrorEx(what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool Bool(const Napi::Value& v, const std::string& what) {
  if (!v.IsBoolean()) throw TypeErrorEx(what + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

double Number(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw TypeErrorEx(what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw RangeErrorEx(what + " must be finite");
  return d;
}

int64_t Int(const Napi::Value& v, const std::string& what, int64_t min, int64_t max) {
  const double d = Number(v, what);
  if (d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw RangeErrorEx(what + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int64_t>(d);
}

std::vector<int64_t> Ints(const Napi::Value& v, const std::string& what, int64_t min, int64_t max) {
  if (!v.IsArray()) throw TypeErrorEx(what + " must be an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i)
    out.push_back(Int(a.Get(i), what + "[" + std::to_string(i) + "]", min, max));
  return out;
}

std::vector<float> Floats(const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw TypeErrorEx(what + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  std::vector<float> out(a.Data(), a.Data() + a.ElementLength());
  for (float x : out) {
    if (!std::isfinite(x)) throw RangeErrorEx(what + " must hold finite numbers");
  }
  return out;
}

Napi::Object Object(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) throw TypeErrorEx(what + " must be an object");
  return v.As<Napi::Object>();
}

at::Tensor Images(const Napi::Value& data, const Napi::Value& n, int64_t channels, const std::string& what) {
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw TypeErrorEx(what + ": images must be a Float32Array");
  }
  auto arr = data.As<Napi::Float32Array>();
  const int64_t count = Int(n, what + ": n", 1, 1000000000);
  const int64_t length = static_cast<int64_t>(arr.ElementLength());
  const int64_t plane = length % (count * channels) == 0 ? length / (count * channels) : 0;
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(plane))));
  if (plane == 0 || side * side != plane || side < kMinImageSide || side > kMaxImageSide) {
    throw RangeErrorEx(what + ": " + std::to_string(count) + " square images of " + std::to_string(channels) +
                       " channel(s) cannot hold " + std::to_string(length) + " values");
  }
  return at::from_blob(arr.Data(), {count, channels, side, side}, at::kFloat).clone();
}

Napi::Function Function(const Napi::Value& v, const std::string& what) {
  if (!v.IsFunction()) throw TypeErrorEx(what + " must be a function");
  return v.As<Napi::Function>();
}

}  // namespace args
}  // namespace resnet_cifar
