// readCheckpoint(path, tensors): what one of our checkpoint files holds, for lib/io/checkpoint.ts.
#include <napi.h>

#include "../core/checkpoint/checkpoint.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"

namespace resnet_cifar {

namespace {

Napi::Object TensorsToJs(Napi::Env env, const std::vector<std::pair<std::string, at::Tensor>>& named) {
  auto o = Napi::Object::New(env);
  for (const auto& [name, t] : named)
    o.Set(name, TensorToJs<float, Napi::Float32Array>(env, t.detach().to(at::kFloat)));
  return o;
}

Napi::Object CheckpointToJs(Napi::Env env, const Checkpoint& ck, bool tensors) {
  auto o = Napi::Object::New(env);
  auto config = Napi::Object::New(env);
  config.Set("depth", static_cast<double>(ck.options.depth()));
  config.Set("shortcut", ShortcutName(ck.options.shortcut()));
  config.Set("numClasses", static_cast<double>(ck.options.num_classes()));
  config.Set("inChannels", static_cast<double>(ck.options.in_channels()));
  o.Set("config", config);
  o.Set("meta", FromIValue(env, FullMeta(ck.options, ck.meta, ck.normalization)));
  o.Set("normalization", ck.normalization ? Napi::Value(NormalizationToJs(env, *ck.normalization)) : env.Null());
  o.Set("libtorch", ck.libtorch);
  if (ck.trainer) {
    const TrainerState& s = *ck.trainer;
    auto t = Napi::Object::New(env);
    t.Set("iteration", static_cast<double>(s.iteration));
    t.Set("iterations", static_cast<double>(s.iterations));
    t.Set("seed", static_cast<double>(s.seed));
    t.Set("batchSize", static_cast<double>(s.batch_size));
    t.Set("trainSize", static_cast<double>(s.train_size));
    t.Set("precision", PrecisionName(s.precision));
    t.Set("worldSize", static_cast<double>(s.world_size));
    SetHistory(env, t, s.train, s.eval);
    if (tensors) t.Set("momentum", TensorsToJs(env, s.momentum));
    o.Set("trainer", t);
  } else {
    o.Set("trainer", env.Null());
  }
  if (tensors && ck.state_dict.isGenericDict()) {
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (const auto& kv : ck.state_dict.toGenericDict()) {
      if (kv.key().isString() && kv.value().isTensor())
        named.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
    }
    o.Set("stateDict", TensorsToJs(env, named));
  }
  return o;
}

}  // namespace

// readCheckpoint(path, tensors: boolean) -> Promise<checkpoint>; without tensors no tensor data is read.
Napi::Value ReadCheckpointJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = args::String(args::At(info, 0), "readCheckpoint: path");
    const bool tensors = args::Bool(args::At(info, 1), "readCheckpoint: tensors");
    auto out = std::make_shared<Checkpoint>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:readCheckpoint",
        [path, tensors, out] {
          *out = resnet_cifar::ReadCheckpoint(path, tensors ? TensorData::kLoad : TensorData::kSkip);
        },
        [out, tensors](Napi::Env env) -> Napi::Value { return CheckpointToJs(env, *out, tensors); });
  });
}

}  // namespace resnet_cifar
