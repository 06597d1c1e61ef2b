// Module entry: registers the native surface declared in lib/base/native.ts (the parts live in the files addon.h
// names).
#include <napi.h>

#include "addon.h"

namespace resnet_cifar {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function model = DefineModel(env);
  data->model_ctor = Napi::Persistent(model);
  Napi::Function dataset = DefineDataset(env);
  data->dataset_ctor = Napi::Persistent(dataset);
  Napi::Function foreign = DefineForeignModule(env);
  data->foreign_ctor = Napi::Persistent(foreign);
  env.SetInstanceData<AddonData>(data);
  exports.Set("Model", model);
  exports.Set("Dataset", dataset);
  exports.Set("ForeignModule", foreign);
  exports.Set("fit", Napi::Function::New<Fit>(env, "fit"));
  exports.Set("stopAllFits", Napi::Function::New<StopAllFits>(env, "stopAllFits"));
  exports.Set("trainingBatch", Napi::Function::New<TrainingBatch>(env, "trainingBatch"));
  exports.Set("readCheckpoint", Napi::Function::New<ReadCheckpointJs>(env, "readCheckpoint"));
  exports.Set("info", Napi::Function::New<Info>(env, "info"));
  exports.Set("setNumThreads", Napi::Function::New<SetNumThreads>(env, "setNumThreads"));
  exports.Set("constants", Constants(env));
#ifdef RESNET_CIFAR_TEST_HOOKS
  exports.Set("batchNormRelu", Napi::Function::New<BatchNormRelu>(env, "batchNormRelu"));
#endif
  exports.Set("writeFileAtomic", Napi::Function::New<WriteFileAtomicJs>(env, "writeFileAtomic"));
  exports.Set("readTarGz", Napi::Function::New<ReadTarGzJs>(env, "readTarGz"));
  exports.Set("decodeImageFiles", Napi::Function::New<DecodeImageFilesJs>(env, "decodeImageFiles"));
  return exports;
}

}  // namespace resnet_cifar

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return resnet_cifar::Init(env, exports); }

NODE_API_MODULE(resnet_cifar, InitModule)
