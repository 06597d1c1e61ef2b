// Arithmetic precision of the network's compute. 'fp32' is plain float32. 'tf32' (CUDA) is float32 with cuDNN's and
// cuBLAS's TensorFloat-32 tensor-core rounding inside convolutions and matmuls. 'bf16' is PyTorch's autocast
// contract: convolutions and matmuls in bfloat16 (oneDNN runs them with AMX or AVX512-BF16 where the CPU has them),
// while the master weights, the optimizer state, BatchNorm statistics and the loss stay float32.
#pragma once

#include <c10/core/DeviceType.h>

#include <string>

namespace resnet_cifar {

enum class Precision { kFp32, kTf32, kBf16 };

Precision ParsePrecision(const std::string& s);  // "fp32" | "tf32" | "bf16"; std::invalid_argument otherwise
const char* PrecisionName(Precision p);

// While alive on this thread, ops on `device` run at `precision` (autocast for bf16; on CUDA, TF32 is switched off
// for fp32 and on for tf32, process-wide; on the CPU tf32 is fp32). The weight casts autocast caches are dropped
// when the outermost scope ends.

class PrecisionScope {
 public:
  PrecisionScope(Precision precision, c10::DeviceType device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_;
};

}  // namespace resnet_cifar
