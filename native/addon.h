#pragma once

#include <napi.h>

namespace resnet_cifar {

// Per-environment data (one per Node environment / worker thread).
struct AddonData {
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference dataset_ctor;
  Napi::FunctionReference script_ctor;
};

Napi::Value Info(const Napi::CallbackInfo& info);
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);

}  // namespace resnet_cifar
