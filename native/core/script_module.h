// TorchScript modules exported by PyTorch (torch.jit.script / torch.jit.trace), for predict and evaluate.
#pragma once

#include <torch/script.h>

#include <memory>
#include <mutex>
#include <string>

#include "dataset.h"
#include "evaluate.h"
#include "normalization.h"
#include "precision.h"

namespace resnet_cifar {

struct ScriptState {
  std::mutex mu;
  torch::jit::Module module;
  c10::Device device{c10::kCPU};
  int64_t num_classes = 0;  // from a probe forward pass at load
};

// Loads, checks the zip's CRCs, puts the module in eval mode and probes it with one 3x32x32 image, which must give
// a [1, classes] tensor; every error names the file.
std::shared_ptr<ScriptState> LoadScriptModule(const std::string& path, c10::Device device);

at::Tensor ScriptPredict(ScriptState& s, const at::Tensor& images, Precision precision = Precision::kFp32);
EvalResult ScriptEvaluate(ScriptState& s, const Dataset& data, int64_t batch, const Normalization& norm,
                          Precision precision = Precision::kFp32);

}  // namespace resnet_cifar
