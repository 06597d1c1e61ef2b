#include "cpu.h"

#include <ATen/cpu/Utils.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace resnet_cifar {

static bool CpuFlag(const std::unordered_map<std::string, c10::IValue>& caps, const std::string& k) {
  auto it = caps.find(k);
  return it != caps.end() && it->second.isBool() && it->second.toBool();
}

Bf16Support CpuBf16Support() {
  static const Bf16Support support = [] {
    Bf16Support s;
    const auto caps = at::cpu::get_cpu_capabilities();
    auto flag = [&](const char* k) { return CpuFlag(caps, k); };
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

static std::string Machine() {
  struct utsname u {};
  return uname(&u) == 0 ? u.machine : "";
}

std::string CpuName() {
  const auto caps = at::cpu::get_cpu_capabilities();
  auto it = caps.find("cpu_name");
  const std::string name = it != caps.end() && it->second.isString() ? it->second.toStringRef() : "unknown CPU";
  return name + ", " + Machine();
}

// The cpuinfo flags each of torch._inductor's x86 instruction-set names compiles for (its -m flags).
static const std::vector<std::string>* X86Needs(const std::string& isa) {
  static const std::vector<std::string> avx2{"avx2", "fma3", "f16c"};
  static const std::vector<std::string> avx512{"avx512_f", "avx512_dq", "avx512_vl", "avx512_bw", "fma3"};
  static const std::vector<std::string> vnni{"avx512_vnni"};
  static const std::vector<std::string> amx{"amx_tile", "amx_bf16", "amx_int8"};
  if (isa == "AVX2") return &avx2;
  if (isa == "AVX512") return &avx512;
  if (isa == "AVX512_VNNI") return &vnni;
  if (isa == "AMX_TILE") return &amx;
  return nullptr;
}

std::string MissingForCompiledCode(const std::string& machine, const std::string& isa) {
  const std::string here = Machine();
  if (!machine.empty() && machine != here) return "it was compiled for " + machine + ", this machine is " + here;
  std::istringstream names(isa);
  std::string name;
  std::vector<std::string> missing;
  const auto caps = at::cpu::get_cpu_capabilities();
  while (names >> name) {
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name == "INVALID_VEC_ISA") continue;  // scalar code
    if (here != "x86_64") continue;           // NEON, ASIMD, SVE, VSX, ZVECTOR: the machine check above decides
    const auto* needs = X86Needs(name);
    if (needs == nullptr) return "its instruction set " + name + " is one this library does not know";
    for (const auto& f : *needs) {
      if (!CpuFlag(caps, f) && std::find(missing.begin(), missing.end(), f) == missing.end()) missing.push_back(f);
    }
  }
  if (missing.empty()) return "";
  std::string out = "this CPU lacks ";
  for (size_t i = 0; i < missing.size(); ++i) out += (i ? ", " : "") + missing[i];
  return out;
}

}  // namespace resnet_cifar
