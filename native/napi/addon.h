// The native surface that addon.cc registers (declared for JS in lib/base/native.ts), one file per part, and the
// addon's per-environment data.
#pragma once

#include <napi.h>

#include <memory>

namespace resnet_cifar {

class Dataset;
struct ModelState;

struct AddonData {
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference dataset_ctor;
  Napi::FunctionReference foreign_ctor;
};

inline AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// The classes (one file each: model.cc, dataset.cc, foreign_module.cc) and the state behind their objects.
Napi::Function DefineModel(Napi::Env env);
Napi::Function DefineDataset(Napi::Env env);
Napi::Function DefineForeignModule(Napi::Env env);
std::shared_ptr<ModelState> ModelOf(const Napi::Value& v);       // TypeError unless a live native Model
std::shared_ptr<const Dataset> DatasetOf(const Napi::Value& v);  // TypeError unless a native Dataset

// The functions (fit.cc, training_batch.cc, checkpoint.cc, info.cc, files.cc, test_hooks.cc).
Napi::Value Fit(const Napi::CallbackInfo& info);
Napi::Value StopAllFits(const Napi::CallbackInfo& info);
Napi::Value TrainingBatch(const Napi::CallbackInfo& info);
Napi::Value ReadCheckpointJs(const Napi::CallbackInfo& info);
Napi::Value Info(const Napi::CallbackInfo& info);
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
Napi::Object Constants(Napi::Env env);
Napi::Value BatchNormRelu(const Napi::CallbackInfo& info);
Napi::Value WriteFileAtomicJs(const Napi::CallbackInfo& info);
Napi::Value ReadTarGzJs(const Napi::CallbackInfo& info);
Napi::Value DecodeImageFilesJs(const Napi::CallbackInfo& info);

}  // namespace resnet_cifar
