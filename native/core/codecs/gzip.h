// gzip data inflated piece by piece (no torch): one or more members, each CRC-32 and length checked, nothing but
// zero bytes after the last. Nothing is allocated for the output: each inflated piece goes to the sink.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>

namespace resnet_cifar {

// What is wrong with the gzip data ("not gzip data", "gzip checksum mismatch", …), for the caller to name its file.
struct GzipError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline bool IsGzip(const char* data, size_t size) {
  return size >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
}

// Inflates data[0, size) into `sink`, which may throw to stop: its exception comes out of Gunzip unchanged. A
// GzipError for damaged data, or for output past what deflate can produce from the compressed bytes there are.
void Gunzip(const char* data, size_t size, const std::function<void(const char*, size_t)>& sink);

}  // namespace resnet_cifar
