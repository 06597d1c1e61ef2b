#include "precision.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/cpu/Utils.h>

#include <cctype>
#include <cstdlib>
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

Bf16Support CpuBf16Support() {
  static const Bf16Support support = [] {
    Bf16Support s;
    const auto caps = at::cpu::get_cpu_capabilities();
    auto flag = [&](const char* k) {
      auto it = caps.find(k);
      return it != caps.end() && it->second.isBool() && it->second.toBool();
    };
    s.amx = flag("amx_bf16") && flag("amx_tile");
    s.avx512 = flag("avx512_bf16");
    // oneDNN's ISA cap, as oneDNN reads it (DNNL_ENABLE_MAX_CPU_ISA is on in PyTorch's build): the names that allow
    // bf16 dot products hold BF16, FP16 or AMX or are AVX10; AMX needs AMX in the name; DEFAULT and ALL cap nothing.
    const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
    if (cap == nullptr) cap = std::getenv("DNNL_MAX_CPU_ISA");
    if (cap != nullptr && *cap != '\0') {
      s.isa_cap = cap;
      std::string isa(cap);
      for (char& c : isa) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const bool all = isa == "DEFAULT" || isa == "ALL";
      const auto has = [&](const char* part) { return isa.find(part) != std::string::npos; };
      if (!all && !has("AMX")) s.amx = false;
      if (!all && !has("BF16") && !has("FP16") && !has("AMX") && isa.rfind("AVX10", 0) != 0) s.avx512 = false;
    }
    return s;
  }();
  return support;
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
