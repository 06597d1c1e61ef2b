// A labeled image set in memory: one uint8 tensor of images (N, C, H, W) and one int64 tensor of labels 0..K-1.
// Its sources: CIFAR-10's binary batch files (10,000 records of a label byte and 3,072 pixel bytes each), pixels
// handed over whole (DatasetFromPixels), IDX files (idx.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../base/image_shape.h"
#include "normalization.h"

namespace resnet_cifar {

class Dataset {
 public:
  Dataset(at::Tensor images, at::Tensor labels);

  const at::Tensor& images() const { return images_; }  // uint8 N x C x H x W, contiguous, CPU
  const at::Tensor& labels() const { return labels_; }  // int64 N, CPU
  int64_t size() const { return labels_.size(0); }
  ImageShape shape() const { return {images_.size(1), images_.size(2), images_.size(3)}; }

  // Images [start, end) sharing this dataset's memory; std::out_of_range outside 0..size().
  std::shared_ptr<Dataset> Slice(int64_t start, int64_t end) const;
  // Grey images as colour ones, the grey channel repeated three times (a colour network meeting grey data);
  // std::invalid_argument unless these are grey.
  std::shared_ptr<Dataset> RepeatGrey() const;
  // Images per class 0..classes-1 (labels >= classes are not counted).
  std::vector<int64_t> LabelCounts(int64_t classes) const;
  // The normalization statistics of these images, computed once per kind and kept.
  Normalization Statistics(NormKind kind) const;

 private:
  at::Tensor images_, labels_;
  mutable std::mutex stats_mu_;
  mutable std::map<NormKind, Normalization> stats_;
};

// uint8 images N x C x H x W (a shape ImageShape::Valid() accepts) and int64 labels (N) in 0..classes-1, taken as
// they are (contiguous); std::invalid_argument naming what is wrong otherwise.
std::shared_ptr<Dataset> DatasetFromPixels(at::Tensor images, at::Tensor labels, int64_t classes);

// One batch file: read from `name` (a path), or taken from `bytes` when they are given (e.g. from the .tar.gz);
// `name` then only names it in errors.
struct BatchFile {
  std::string name;
  std::vector<char> bytes;
  bool in_memory = false;
};

constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;
constexpr int64_t kCifarRecordsPerFile = 10000;
// CIFAR-100's binary version: a coarse label byte (20 superclasses), a fine label byte (100 classes), 3,072 pixels;
// train.bin holds 50,000 records, test.bin 10,000.
constexpr int64_t kCifar100RecordBytes = 2 + 3 * 32 * 32;
constexpr int64_t kCifar100MaxRecords = 50000;

// The files concatenated in order; an error naming the file for a wrong size or a label outside 0-9.
std::shared_ptr<Dataset> LoadCifarBatches(std::vector<BatchFile> files);
// CIFAR-100's files concatenated in order, with its fine (0-99) or coarse (0-19) labels; an error naming the file
// for a size that is not a whole number of records (or more than 50,000) or a label out of range.
std::shared_ptr<Dataset> LoadCifar100(std::vector<BatchFile> files, bool fine);

}  // namespace resnet_cifar
