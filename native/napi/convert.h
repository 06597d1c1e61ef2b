// Values between libtorch and JS: tensors to typed arrays, plain data (checkpoint meta) both ways, and the
// shapes lib/base/native.ts declares for normalizations, evaluations and training records.
#pragma once

#include <ATen/core/Tensor.h>
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "../core/checkpoint/checkpoint.h"
#include "../core/data/normalization.h"
#include "../core/model/evaluate.h"

namespace resnet_cifar {

// A copy of t's elements (on the CPU, in contiguous order) as a JS typed array A of element type T.
template <class T, class A>
A TensorToJs(Napi::Env env, const at::Tensor& t) {
  auto c = t.to(at::kCPU).contiguous();
  auto a = A::New(env, c.numel());
  std::memcpy(a.Data(), c.data_ptr<T>(), c.numel() * sizeof(T));
  return a;
}

Napi::Float32Array FloatsToJs(Napi::Env env, const std::vector<float>& v);

// Plain data (numbers, strings, booleans, null, arrays, plain objects) <-> IValue. Typed arrays and functions
// cannot be stored: a TypeError naming `where`.
c10::IValue ToIValue(const Napi::Value& v, const std::string& where);
Napi::Value FromIValue(Napi::Env env, const c10::IValue& v);
Meta ToMeta(const Napi::Value& v, const std::string& where);  // a plain object

// { kind: 'pixel' | 'channel', mean: Float32Array, std: Float32Array }
Napi::Object NormalizationToJs(Napi::Env env, const Normalization& n);
Normalization NormalizationFromJs(const Napi::Value& v, const std::string& what);

// { count, loss, error, confusion: number[], classCounts: number[], classErrors: number[] }
Napi::Object EvalResultToJs(Napi::Env env, const EvalResult& r);
// { iteration, epoch, lr, loss, trainError, imagesPerSecond }
Napi::Object TrainRecordToJs(Napi::Env env, const TrainRecord& r);
// { iteration, error, loss }
Napi::Object EvalRecordToJs(Napi::Env env, const EvalRecord& r);
// o.train = [TrainRecord...], o.eval = [EvalRecord...]: a fit's history.
void SetHistory(Napi::Env env, Napi::Object o, const std::vector<TrainRecord>& train,
                const std::vector<EvalRecord>& eval);

}  // namespace resnet_cifar
