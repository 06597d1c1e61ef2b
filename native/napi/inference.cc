#include "inference.h"

#include <memory>
#include <stdexcept>

#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"

namespace resnet_cifar {

Napi::Value PredictJs(const Napi::CallbackInfo& info, const char* name, int64_t channels, PredictFn predict) {
  auto input = args::Images(args::At(info, 0), args::At(info, 1), channels, "predict");
  const Precision precision = ParsePrecision(args::String(args::At(info, 2), "predict: precision"));
  auto out = std::make_shared<at::Tensor>();
  return TaskWorker::Run(
      info.Env(), name, [predict, input, precision, out] { *out = predict(input, precision); },
      [out](Napi::Env env) -> Napi::Value { return TensorToJs<float, Napi::Float32Array>(env, *out); });
}

Napi::Value EvaluateJs(const Napi::CallbackInfo& info, const char* name,
                       std::function<std::optional<Normalization>()> own, EvaluateFn evaluate) {
  auto data = DatasetOf(args::At(info, 0));
  const int64_t batch = args::Int(args::At(info, 1), "evaluate: batchSize", 1);
  std::optional<Normalization> norm;
  if (!args::At(info, 2).IsNull()) {
    norm = NormalizationFromJs(args::At(info, 2), "evaluate: normalization");
  } else if (own) {
    norm = own();
  }
  if (!norm) throw std::invalid_argument("evaluate: the model has no normalization of its own; pass one");
  const Precision precision = ParsePrecision(args::String(args::At(info, 3), "evaluate: precision"));
  auto out = std::make_shared<EvalResult>();
  return TaskWorker::Run(
      info.Env(), name,
      [evaluate, data, batch, norm, precision, out] { *out = evaluate(*data, batch, *norm, precision); },
      [out](Napi::Env env) -> Napi::Value { return EvalResultToJs(env, *out); });
}

}  // namespace resnet_cifar
