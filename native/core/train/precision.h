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

// What this CPU offers bfloat16 compute as oneDNN will use it: AMX-BF16 tiles, AVX512-BF16 dot products, or neither
// (then oneDNN emulates bf16 and it is slower than fp32). ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA), read by oneDNN
// itself, caps what it uses: AVX2 there makes any CPU take the emulated path, as an AVX2-only CPU does.
struct Bf16Support {
  bool amx = false;
  bool avx512 = false;
  std::string isa_cap;  // ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) as set, "" when neither is
  const char* path() const { return amx ? "amx-bf16" : avx512 ? "avx512-bf16" : "emulated"; }
};
Bf16Support CpuBf16Support();

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
