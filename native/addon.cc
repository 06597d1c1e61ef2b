// Module entry: registers the native surface declared in lib/native.ts.
#include <napi.h>

#include "addon.h"
#include "dataset.h"
#include "fused_bn.h"
#include "model.h"
#include "torchscript.h"
#include "trainer.h"

namespace resnet_cifar {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function model = ModelWrap::Define(env);
  data->model_ctor = Napi::Persistent(model);
  Napi::Function dataset = DatasetWrap::Define(env);
  data->dataset_ctor = Napi::Persistent(dataset);
  Napi::Function script = ScriptWrap::Define(env);
  data->script_ctor = Napi::Persistent(script);
  env.SetInstanceData<AddonData>(data);
  exports.Set("ScriptModule", script);
  exports.Set("Dataset", dataset);
  exports.Set("Model", model);
  exports.Set("fit", Napi::Function::New<Fit>(env, "fit"));
  exports.Set("stopAllFits", Napi::Function::New<StopAllFits>(env, "stopAllFits"));
  exports.Set("trainingBatch", Napi::Function::New<TrainingBatch>(env, "trainingBatch"));
  exports.Set("info", Napi::Function::New<Info>(env, "info"));
  exports.Set("setNumThreads", Napi::Function::New<SetNumThreads>(env, "setNumThreads"));
  exports.Set("batchNormRelu", Napi::Function::New<BatchNormRelu>(env, "batchNormRelu"));
  return exports;
}

}  // namespace resnet_cifar

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return resnet_cifar::Init(env, exports); }

NODE_API_MODULE(resnet_cifar, InitModule)
