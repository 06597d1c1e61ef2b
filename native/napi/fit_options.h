// The fit options lib/train/trainer.ts sends (NativeFitOptions in lib/base/native.ts) as core's FitConfig: the one
// place they change shape. Used by fit() and trainingBatch().
#pragma once

#include <napi.h>

#include "../core/train/fit.h"

namespace resnet_cifar {

FitConfig FitConfigFromJs(const Napi::Value& v);

}  // namespace resnet_cifar
