// IDX files as MNIST and Fashion-MNIST ship them (plain or gzip): a magic of two zero bytes, a type byte (0x08:
// unsigned bytes, the only type image sets use) and a dimension count, the dimensions as big-endian uint32, then
// the values. Read as a stream: the header is checked and the declared total held against `max_bytes` before
// anything is allocated; more or fewer bytes than declared is an error naming the file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataset.h"

namespace resnet_cifar {

constexpr int kMaxIdxDims = 4;

struct IdxArray {
  std::vector<int64_t> dims;
  at::Tensor values;  // uint8, shaped as dims
};

IdxArray ReadIdxBytes(const char* data, size_t size, const std::string& name, uint64_t max_bytes);
IdxArray ReadIdx(const std::string& path, uint64_t max_bytes);

// An image file (N x H x W) and a label file (N) into a dataset of N x 1 x H x W images; `classes` 0 means the
// largest label + 1 (at least 2). std::runtime_error naming the file for anything that does not fit.
std::shared_ptr<Dataset> LoadIdx(const std::string& images, const std::string& labels, int64_t classes,
                                 uint64_t max_bytes);

}  // namespace resnet_cifar
