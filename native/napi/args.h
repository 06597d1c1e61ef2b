// The one set of argument readers. lib/ has checked every option and owns every message a user should see; these
// readers only keep memory and types safe when something else calls the addon (the fuzzer does): a wrong type is
// a TypeError, a value outside what the native code can hold a RangeError, each naming the argument.
#pragma once

#include <ATen/core/Tensor.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "guard.h"

namespace resnet_cifar {

// The largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER): the default bound of every integer.
constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

namespace args {

std::string String(const Napi::Value& v, const std::string& what);
bool Bool(const Napi::Value& v, const std::string& what);
double Number(const Napi::Value& v, const std::string& what);  // finite
int64_t Int(const Napi::Value& v, const std::string& what, int64_t min = -kMaxSafeInteger,
            int64_t max = kMaxSafeInteger);
std::vector<int64_t> Ints(const Napi::Value& v, const std::string& what, int64_t min, int64_t max);
// A Float32Array's values (copied: the caller may reuse the buffer), finite.
std::vector<float> Floats(const Napi::Value& v, const std::string& what);
Napi::Object Object(const Napi::Value& v, const std::string& what);
// (Float32Array, n) of n NCHW 3x32x32 images -> a float tensor copy (the caller may reuse the buffer at once).
at::Tensor Images(const Napi::Value& data, const Napi::Value& n, int64_t channels, const std::string& what);
Napi::Function Function(const Napi::Value& v, const std::string& what);

// info[i], or undefined past the end.
inline Napi::Value At(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

// Named fields of an options object: o.Int("batchSize", 1, 50000) reads o.batchSize, naming it "fit.batchSize".
class Fields {
 public:
  Fields(const Napi::Value& v, std::string what) : o_(Object(v, what)), what_(std::move(what)) {}
  Napi::Value Get(const char* key) const { return o_.Get(key); }
  bool Has(const char* key) const { return o_.Has(key) && !o_.Get(key).IsUndefined(); }
  std::string String(const char* key) const { return args::String(Get(key), Name(key)); }
  bool Bool(const char* key) const { return args::Bool(Get(key), Name(key)); }
  double Number(const char* key) const { return args::Number(Get(key), Name(key)); }
  int64_t Int(const char* key, int64_t min = -kMaxSafeInteger, int64_t max = kMaxSafeInteger) const {
    return args::Int(Get(key), Name(key), min, max);
  }
  std::vector<int64_t> Ints(const char* key, int64_t min, int64_t max) const {
    return args::Ints(Get(key), Name(key), min, max);
  }
  std::vector<float> Floats(const char* key) const { return args::Floats(Get(key), Name(key)); }
  std::string Name(const char* key) const { return what_ + "." + key; }

 private:
  Napi::Object o_;
  std::string what_;
};

}  // namespace args
}  // namespace resnet_cifar
