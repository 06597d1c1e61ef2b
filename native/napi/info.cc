// info(), setNumThreads() and the constants lib/ validates against.
#include <dlfcn.h>
#include <napi.h>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "../core/base/cpu.h"
#include "../core/base/image_shape.h"
#include "../core/base/limits.h"
#include "../core/base/precision.h"
#include "../core/checkpoint/checkpoint.h"
#include "../core/data/batches.h"
#include "../core/data/normalization.h"
#include "../core/nn/fused_bn.h"
#include "../core/nn/resnet.h"
#include "../core/train/distributed.h"
#include "addon.h"
#include "args.h"
#include "guard.h"

namespace resnet_cifar {

static std::string LibraryOf(const void* symbol) {
  Dl_info di;
  if (dladdr(symbol, &di) && di.dli_fname) return di.dli_fname;
  return "";
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto o = Napi::Object::New(env);
    o.Set("version", TORCH_VERSION);
#ifdef RESNET_CIFAR_CUDA
    o.Set("cuda", true);
#else
    o.Set("cuda", false);
#endif
    o.Set("cudaAvailable", torch::cuda::is_available());
    o.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
    o.Set("cudnnAvailable", torch::cuda::cudnn_is_available());
    o.Set("threads", static_cast<double>(at::get_num_threads()));
    o.Set("interopThreads", static_cast<double>(at::get_num_interop_threads()));
    o.Set("fusedKernels", FusedKernelThreading());
    const Bf16Support bf16 = CpuBf16Support();
    auto cpu = Napi::Object::New(env);
    cpu.Set("amxBf16", bf16.amx);
    cpu.Set("avx512Bf16", bf16.avx512);
    cpu.Set("bf16", bf16.path());
    cpu.Set("isaCap", bf16.isa_cap.empty() ? env.Null() : Napi::String::New(env, bf16.isa_cap));
    o.Set("cpu", cpu);
    const auto backends = DistributedBackends();
    auto dist = Napi::Array::New(env, backends.size());
    for (size_t i = 0; i < backends.size(); ++i) dist.Set(static_cast<uint32_t>(i), backends[i]);
    o.Set("distributed", dist);
    auto libs = Napi::Object::New(env);
    libs.Set("c10", LibraryOf(reinterpret_cast<const void*>(&c10::GetAllocator)));
    libs.Set("torch_cpu", LibraryOf(reinterpret_cast<const void*>(&at::get_num_threads)));
    libs.Set("addon", LibraryOf(reinterpret_cast<const void*>(&Info)));
    o.Set("libraries", libs);
#ifdef RESNET_CIFAR_GYP
    o.Set("build", "node-gyp");
#else
    o.Set("build", "cmake-js");
#endif
    return o;
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::set_num_threads(static_cast<int>(args::Int(args::At(info, 0), "setNumThreads: threads", 1, 1024)));
    return info.Env().Undefined();
  });
}

// The bounds and names that native code enforces, defined there once and read by lib/ for its own checks.
Napi::Object Constants(Napi::Env env) {
  auto o = Napi::Object::New(env);
  o.Set("minDepth", static_cast<double>(kMinDepth));
  o.Set("maxDepth", static_cast<double>(kMaxDepth));
  o.Set("maxClasses", static_cast<double>(kMaxClasses));
  o.Set("minImageSide", static_cast<double>(kMinImageSide));
  o.Set("maxImageSide", static_cast<double>(kMaxImageSide));
  o.Set("minDatasetClasses", static_cast<double>(kMinDatasetClasses));
  o.Set("maxDatasetClasses", static_cast<double>(kMaxDatasetClasses));
  o.Set("maxPad", static_cast<double>(kMaxPad));
  o.Set("checkpointFormat", kCheckpointFormat);
  o.Set("checkpointFormatVersion", static_cast<double>(kCheckpointFormatVersion));
  const auto& keys = ReservedMetaKeys();
  auto arr = Napi::Array::New(env, keys.size());
  for (size_t i = 0; i < keys.size(); ++i) arr.Set(static_cast<uint32_t>(i), keys[i]);
  o.Set("reservedMetaKeys", arr);
  o.Set("maxMetaNesting", static_cast<double>(kMaxMetaNesting));
  // The enumerations the addon parses, named as it parses them: lib/ checks options against these lists.
  auto names = [&](std::vector<std::string> v) {
    auto a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  };
  o.Set("shortcuts", names({ShortcutName(Shortcut::A), ShortcutName(Shortcut::B), ShortcutName(Shortcut::Plain)}));
  o.Set("precisions",
        names({PrecisionName(Precision::kFp32), PrecisionName(Precision::kTf32), PrecisionName(Precision::kBf16)}));
  o.Set("normalizationKinds", names({NormKindName(NormKind::kPixel), NormKindName(NormKind::kChannel)}));
  o.Set("stages", names(StageNames()));
  o.Freeze();
  return o;
}

}  // namespace resnet_cifar
