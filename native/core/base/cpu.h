// What this CPU can run: the bfloat16 paths oneDNN will take, and whether code compiled for some instruction sets
// (an AOTInductor package's kernels) runs here at all.
#pragma once

#include <string>

namespace resnet_cifar {

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

// What an AOTInductor package's compiled code needs of the CPU, from its metadata as torch._inductor writes it:
// AOTI_MACHINE ("x86_64", "aarch64", ...) and AOTI_CPU_ISA (torch._inductor.cpu_vec_isa.pick_vec_isa() upper-cased:
// "AVX2", "AVX512", "AVX512 AVX512_VNNI", "AVX512 AVX512_VNNI AMX_TILE", "ASIMD", ...). Empty when this CPU runs it;
// otherwise what it lacks, in words (code built for missing instructions would kill the process with SIGILL, so the
// check comes before the package's shared library is loaded). A name this library does not know is refused too.
std::string MissingForCompiledCode(const std::string& machine, const std::string& isa);

// This CPU's name and architecture as cpuinfo reports them ("AMD EPYC", "x86_64").
std::string CpuName();

}  // namespace resnet_cifar
