// trainingBatch(): one batch exactly as a fit with the same options would train on it, for the parity and GPU checks.
#include <napi.h>

#include <memory>

#include "../core/model/device.h"
#include "../core/train/fit.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "fit_options.h"
#include "guard.h"

namespace resnet_cifar {

// trainingBatch(dataset, options, iteration, device?) -> Promise<{ input, labels, index, dy, dx, flip }>: exactly
// the batch a fit with these options trains on at `iteration`, built on `device` (default the CPU; the GPU checks
// compare the two), returned in NCHW order.
Napi::Value TrainingBatch(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto data = DatasetOf(args::At(info, 0));
    FitConfig cfg = FitConfigFromJs(args::At(info, 1));
    const int64_t it = args::Int(args::At(info, 2), "trainingBatch: iteration", 0);
    const c10::Device device = args::At(info, 3).IsUndefined()
                                   ? c10::Device(c10::kCPU)
                                   : ResolveDevice(args::String(info[3], "trainingBatch: device"));
    if (cfg.batches.batch > data->size()) throw RangeErrorEx("trainingBatch: batchSize is larger than the dataset");
    struct Out {
      Batch batch;
      BatchDraw draw;
    };
    auto out = std::make_shared<Out>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:trainingBatch",
        [data, cfg, it, device, out] {
          Normalization norm = cfg.normalization ? *cfg.normalization : data->Statistics(cfg.normalization_kind);
          BatchMaker maker(*data, norm, cfg.batches, device);
          out->batch = maker.Make(it, &out->draw);
        },
        [out](Napi::Env env) -> Napi::Value {
          const auto& d = out->draw;
          auto o = Napi::Object::New(env);
          o.Set("input", TensorToJs<float, Napi::Float32Array>(env, out->batch.x));
          o.Set("labels", TensorToJs<int32_t, Napi::Int32Array>(env, out->batch.y.to(at::kInt)));
          o.Set("index", TensorToJs<int32_t, Napi::Int32Array>(env, d.index.to(at::kInt)));
          o.Set("dy", TensorToJs<int32_t, Napi::Int32Array>(env, d.dy.to(at::kInt)));
          o.Set("dx", TensorToJs<int32_t, Napi::Int32Array>(env, d.dx.to(at::kInt)));
          o.Set("flip", TensorToJs<uint8_t, Napi::Uint8Array>(env, d.flip.to(at::kByte)));
          return o;
        });
  });
}

}  // namespace resnet_cifar
