// Modules PyTorch exported, for predict and evaluate: TorchScript (torch.jit.script / torch.jit.trace, saved with
// torch.jit.save) and AOTInductor packages (torch.export + torch._inductor.aoti_compile_and_package, .pt2).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "../base/precision.h"
#include "../data/dataset.h"
#include "../data/normalization.h"
#include "evaluate.h"

namespace resnet_cifar {

struct ForeignModule {
  std::mutex mu;
  c10::Device device{c10::kCPU};
  int64_t num_classes = 0;                           // from a probe forward pass at load
  std::function<at::Tensor(const at::Tensor&)> run;  // normalized NCHW float batch on `device` -> logits
  std::shared_ptr<void> keep;                        // what `run` runs (the module, the package loader)
};

// Each loads, checks, puts the module in eval mode and probes it with one 3x32x32 image, which must give a
// [1, classes] tensor; every error names the file.
std::shared_ptr<ForeignModule> LoadTorchScript(const std::string& path, c10::Device device);
// The package must be compiled for `device`'s kind and accept a batch of any size (a dynamic batch dimension).
std::shared_ptr<ForeignModule> LoadExported(const std::string& path, c10::Device device);

at::Tensor ForeignPredict(ForeignModule& m, const at::Tensor& images, Precision precision = Precision::kFp32);
EvalResult ForeignEvaluate(ForeignModule& m, const Dataset& data, int64_t batch, const Normalization& norm,
                           Precision precision = Precision::kFp32);

}  // namespace resnet_cifar
