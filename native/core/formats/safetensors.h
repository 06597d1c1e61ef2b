// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, an optional "__metadata__" of string pairs, then the raw little-endian data.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace resnet_cifar {

struct Safetensors {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in file order; CPU, contiguous
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Whether a file of `file_size` bytes beginning with `head` (at least 9 bytes) looks like safetensors: a plausible
// header length followed by '{'.
bool LooksLikeSafetensors(const std::vector<char>& head, uint64_t file_size);

// Every offset, dtype and shape is checked against the file: a std::runtime_error naming `path` and the first
// problem otherwise. Tensors own their memory.
Safetensors ParseSafetensors(const std::vector<char>& bytes, const std::string& path);

std::vector<char> SafetensorsBytes(const Safetensors& s);

}  // namespace resnet_cifar
