// predict and evaluate as both network classes take them from JS (model.cc: our ResNet; foreign_module.cc: PyTorch's
// programs): one reading of the arguments, one worker off the main thread, one conversion of the result.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>

#include "../core/base/precision.h"
#include "../core/data/dataset.h"
#include "../core/data/normalization.h"
#include "../core/model/evaluate.h"

namespace resnet_cifar {

using PredictFn = std::function<at::Tensor(const at::Tensor& images, Precision precision)>;
using EvaluateFn = std::function<EvalResult(const Dataset& data, int64_t batch, const Normalization& norm, Precision)>;

// predict(Float32Array NCHW, n, precision) -> Promise<Float32Array n x classes>, for a network of `channels` input
// channels (square images of any size).
Napi::Value PredictJs(const Napi::CallbackInfo& info, const char* name, int64_t channels, PredictFn predict);

// evaluate(dataset, batchSize, normalization | null, precision) -> Promise<evaluation>; null: `own()`, the network's
// own normalization (an error when it has none, or when `own` is empty).
Napi::Value EvaluateJs(const Napi::CallbackInfo& info, const char* name,
                       std::function<std::optional<Normalization>()> own, EvaluateFn evaluate);

}  // namespace resnet_cifar
