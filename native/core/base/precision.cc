#include "precision.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>

#include <stdexcept>
#include <string>

namespace resnet_cifar {

Precision ParsePrecision(const std::string& s) {
  if (s == "fp32") return Precision::kFp32;
  if (s == "tf32") return Precision::kTf32;
  if (s == "bf16") return Precision::kBf16;
  throw std::invalid_argument("unknown precision '" + s + "'");
}

const char* PrecisionName(Precision p) {
  return p == Precision::kBf16 ? "bf16" : p == Precision::kTf32 ? "tf32" : "fp32";
}

PrecisionScope::PrecisionScope(Precision precision, c10::DeviceType device) : device_(device) {
  if (device == c10::DeviceType::CUDA && precision != Precision::kBf16) {
    // fp32 means fp32: no TF32 tensor-core rounding in cuDNN convolutions (libtorch allows it by default) or cuBLAS;
    // tf32 asks for it in both.
    const bool tf32 = precision == Precision::kTf32;
    at::globalContext().setAllowTF32CuDNN(tf32);
    at::globalContext().setAllowTF32CuBLAS(tf32);
  }
  if (precision != Precision::kBf16) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(device);
  was_dtype_ = at::autocast::get_autocast_dtype(device);
  at::autocast::set_autocast_enabled(device, true);
  at::autocast::set_autocast_dtype(device, at::kBFloat16);
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, was_enabled_);
  at::autocast::set_autocast_dtype(device_, was_dtype_);
}

}  // namespace resnet_cifar
