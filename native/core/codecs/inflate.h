// Raw deflate streams inflated piece by piece through miniz's decoder, which libtorch carries and exports (no torch
// headers). Nothing is allocated for the output: each inflated piece goes to a callback.
#pragma once

#include <cstddef>

// Weak, so that a libtorch without it still links: HaveInflate() is then false.
extern "C" int tinfl_decompress_mem_to_callback(const void* in, size_t* in_size, int (*put)(const void*, int, void*),
                                                void* user, int flags) __attribute__((weak));

namespace resnet_cifar {

inline bool HaveInflate() { return tinfl_decompress_mem_to_callback != nullptr; }

// Inflates the raw deflate stream at in[0, *in_size): `put(piece, length, user)` gets each inflated piece and
// returns 1 to go on, 0 to stop. True when the stream ended and every put returned 1; *in_size is then the number
// of compressed bytes the stream took.
inline bool InflateRaw(const void* in, size_t* in_size, int (*put)(const void*, int, void*), void* user) {
  return tinfl_decompress_mem_to_callback(in, in_size, put, user, 0) == 1;
}

}  // namespace resnet_cifar
