// The restricted pickle reader's interface inside formats/ (unpickler.cc reads, torch_load.cc gives it the file's
// storages); pickle.h is the public one.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace resnet_cifar {

// A pickle or container that is damaged or holds what the reader refuses; callers add the file's name.
struct BadPickle : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the tensors' bytes are: a zip record per storage, or the legacy format's storages after the pickles.
class StorageSource {
 public:
  virtual ~StorageSource() = default;
  virtual at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) = 0;
};

// Reads one pickle from data[start, size) (within the bounds of limits.h); `*end` (when given) is where it ended.
// `storages` is null for a pickle that holds no tensor.
c10::IValue Unpickle(const char* data, size_t size, size_t start, StorageSource* storages, size_t* end);

}  // namespace resnet_cifar
