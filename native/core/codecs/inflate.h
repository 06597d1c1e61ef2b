// Raw deflate streams inflated piece by piece through miniz's decoder, which libtorch carries and exports (no torch
// headers). Nothing is allocated for the output: each inflated piece goes to a callback.
#pragma once

#include <cstddef>

// Weak, so that a libtorch without them still links: HaveInflate() / HaveInflateZlib() are then false.
extern "C" int tinfl_decompress_mem_to_callback(const void* in, size_t* in_size, int (*put)(const void*, int, void*),
                                                void* user, int flags) __attribute__((weak));
extern "C" size_t tinfl_decompress_mem_to_mem(void* out, size_t out_len, const void* in, size_t in_len, int flags)
    __attribute__((weak));

namespace resnet_cifar {

inline bool HaveInflate() { return tinfl_decompress_mem_to_callback != nullptr; }
inline bool HaveInflateZlib() { return tinfl_decompress_mem_to_mem != nullptr; }

// Inflates the raw deflate stream at in[0, *in_size): `put(piece, length, user)` gets each inflated piece and
// returns 1 to go on, 0 to stop. True when the stream ended and every put returned 1; *in_size is then the number
// of compressed bytes the stream took.
inline bool InflateRaw(const void* in, size_t* in_size, int (*put)(const void*, int, void*), void* user) {
  return tinfl_decompress_mem_to_callback(in, in_size, put, user, 0) == 1;
}

// Inflates the zlib stream in[0, in_size) (header, deflate, Adler-32, all checked) into out[0, out_size): true when
// it gives exactly out_size bytes. The output buffer does not wrap, so a distance reaching before the output's start
// is refused, as zlib refuses it.
inline bool InflateZlibExact(const void* in, size_t in_size, void* out, size_t out_size) {
  constexpr int kParseZlibHeader = 1, kComputeAdler32 = 8;  // miniz's TINFL_FLAG_* values
  return tinfl_decompress_mem_to_mem(out, out_size, in, in_size, kParseZlibHeader | kComputeAdler32) == out_size;
}

}  // namespace resnet_cifar
