#include "dataset.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>

#include "../base/files.h"

namespace resnet_cifar {

Dataset::Dataset(at::Tensor images, at::Tensor labels) : images_(std::move(images)), labels_(std::move(labels)) {}

std::shared_ptr<Dataset> Dataset::Slice(int64_t start, int64_t end) const {
  if (start < 0 || end > size() || start >= end) {
    throw std::out_of_range("slice(" + std::to_string(start) + ", " + std::to_string(end) + ") is outside 0.." +
                            std::to_string(size()));
  }
  return std::make_shared<Dataset>(images_.narrow(0, start, end - start), labels_.narrow(0, start, end - start));
}

std::shared_ptr<Dataset> DatasetFromPixels(at::Tensor images, at::Tensor labels, int64_t classes) {
  if (images.dim() != 4 || images.scalar_type() != at::kByte || !images.device().is_cpu()) {
    throw std::invalid_argument("images must be uint8 N x C x H x W on the CPU");
  }
  const ImageShape shape{images.size(1), images.size(2), images.size(3)};
  if (!shape.Valid()) {
    throw std::invalid_argument("images of " + shape.ToString() + " (expected 1 or 3 channels and sides of " +
                                std::to_string(kMinImageSide) + " to " + std::to_string(kMaxImageSide) + ")");
  }
  if (labels.dim() != 1 || labels.scalar_type() != at::kLong || labels.size(0) != images.size(0)) {
    throw std::invalid_argument("labels must be int64, one per image (" + std::to_string(images.size(0)) + ")");
  }
  if (images.size(0) < 1) throw std::invalid_argument("a dataset needs at least one image");
  if (classes < kMinDatasetClasses || classes > kMaxDatasetClasses) {
    throw std::invalid_argument("classes must be " + std::to_string(kMinDatasetClasses) + " to " +
                                std::to_string(kMaxDatasetClasses) + ", got " + std::to_string(classes));
  }
  labels = labels.contiguous();
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < labels.size(0); ++i) {
    if (l[i] < 0 || l[i] >= classes) {
      throw std::invalid_argument("label " + std::to_string(l[i]) + " of image " + std::to_string(i) +
                                  " is outside 0.." + std::to_string(classes - 1));
    }
  }
  return std::make_shared<Dataset>(images.contiguous(), labels);
}

std::shared_ptr<Dataset> Dataset::RepeatGrey() const {
  if (images_.size(1) != 1) throw std::invalid_argument("RepeatGrey: these images are not grey");
  return std::make_shared<Dataset>(images_.expand({size(), 3, images_.size(2), images_.size(3)}).contiguous(), labels_);
}

std::vector<int64_t> Dataset::LabelCounts(int64_t classes) const {
  std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
  const int64_t* l = labels_.data_ptr<int64_t>();
  for (int64_t i = 0; i < size(); ++i) {
    if (l[i] >= 0 && l[i] < classes) ++counts[static_cast<size_t>(l[i])];
  }
  return counts;
}

Normalization Dataset::Statistics(NormKind kind) const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  auto it = stats_.find(kind);
  if (it == stats_.end()) it = stats_.emplace(kind, Normalization::Of(kind, images_)).first;
  return it->second;
}

namespace {

// How a CIFAR binary file lays out its records: label bytes before the 3,072 pixels, the one used, its bound.
struct RecordFormat {
  int64_t label_bytes, label_at, classes;
  int64_t records;  // per file; 0: any whole number up to max_records
  int64_t max_records;
  std::string expected;  // what a file of the right size holds, for errors
};

std::shared_ptr<Dataset> LoadRecords(std::vector<BatchFile> files, const RecordFormat& fmt) {
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t record = fmt.label_bytes + kPixels;
  auto records_of = [&](uint64_t size) -> int64_t {
    if (fmt.records > 0) return size == static_cast<uint64_t>(fmt.records * record) ? fmt.records : -1;
    const bool whole = size > 0 && size % static_cast<uint64_t>(record) == 0 &&
                       size / static_cast<uint64_t>(record) <= static_cast<uint64_t>(fmt.max_records);
    return whole ? static_cast<int64_t>(size / static_cast<uint64_t>(record)) : -1;
  };
  auto wrong_size = [&](const BatchFile& f, uint64_t size) {
    return std::runtime_error(f.name + " has " + std::to_string(size) + " bytes, expected " + fmt.expected);
  };
  // Every file of another size is refused before anything is read or allocated: nothing beyond the batches
  // themselves is ever in memory.
  std::vector<int64_t> counts;
  int64_t n = 0;
  for (const auto& f : files) {
    const uint64_t size = f.in_memory ? f.bytes.size() : RegularFileSize(f.name);
    const int64_t k = records_of(size);
    if (k < 0) throw wrong_size(f, size);
    counts.push_back(k);
    n += k;
  }
  auto images = at::empty({n, 3, 32, 32}, at::kByte);
  auto labels = at::empty({n}, at::kLong);
  uint8_t* px = images.data_ptr<uint8_t>();
  int64_t* lb = labels.data_ptr<int64_t>();
  int64_t i = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    std::vector<char> data = files[f].in_memory ? std::move(files[f].bytes) : ReadFile(files[f].name);
    if (records_of(data.size()) != counts[f]) throw wrong_size(files[f], data.size());  // changed since it was checked
    for (int64_t r = 0; r < counts[f]; ++r, ++i) {
      const auto* rec = reinterpret_cast<const uint8_t*>(data.data()) + r * record;
      const uint8_t label = rec[fmt.label_at];
      if (label >= fmt.classes) {
        throw std::runtime_error(files[f].name + ": record " + std::to_string(r) + " has label " +
                                 std::to_string(label) + " (expected 0-" + std::to_string(fmt.classes - 1) + ")");
      }
      lb[i] = label;
      std::memcpy(px + i * kPixels, rec + fmt.label_bytes, kPixels);
    }
  }
  return std::make_shared<Dataset>(images, labels);
}

}  // namespace

std::shared_ptr<Dataset> LoadCifarBatches(std::vector<BatchFile> files) {
  return LoadRecords(std::move(files),
                     {1, 0, 10, kCifarRecordsPerFile, kCifarRecordsPerFile,
                      std::to_string(kCifarRecordsPerFile * kCifarRecordBytes) + " (10000 records of 3073 bytes)"});
}

std::shared_ptr<Dataset> LoadCifar100(std::vector<BatchFile> files, bool fine) {
  return LoadRecords(std::move(files), {2, fine ? 1 : 0, fine ? 100 : 20, 0, kCifar100MaxRecords,
                                        "a whole number of records of 3074 bytes, at most 50000"});
}

}  // namespace resnet_cifar
