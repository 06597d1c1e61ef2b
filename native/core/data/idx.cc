#include "idx.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "../base/files.h"
#include "../codecs/gzip.h"

namespace resnet_cifar {
namespace {

struct IdxError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bytes in, header first: once the header is whole it is checked and the values' tensor allocated.
class IdxParser {
 public:
  explicit IdxParser(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  void Feed(const char* p, size_t n) {
    while (n > 0 && !values_.defined()) {
      header_.push_back(*p++);
      --n;
      HeaderByte();
    }
    if (n == 0) return;
    if (n > total_ - filled_) {
      throw IdxError("it holds more bytes than its header declares (" + std::to_string(total_) + " values)");
    }
    std::memcpy(values_.data_ptr<uint8_t>() + filled_, p, n);
    filled_ += n;
  }

  IdxArray Finish() {
    if (!values_.defined()) throw IdxError("it ends inside its header (" + std::to_string(header_.size()) + " bytes)");
    if (filled_ != total_) {
      throw IdxError("it ends after " + std::to_string(filled_) + " of the " + std::to_string(total_) +
                     " values its header declares (truncated?)");
    }
    return {dims_, values_.view(dims_)};
  }

 private:
  void HeaderByte() {
    const auto* h = reinterpret_cast<const unsigned char*>(header_.data());
    if (header_.size() == 4) {
      if (h[0] != 0 || h[1] != 0) throw IdxError("not an IDX file (its first two bytes are not zero)");
      if (h[2] != 0x08) {
        throw IdxError("its values are of IDX type 0x" + std::string(1, "0123456789abcdef"[h[2] >> 4]) +
                       std::string(1, "0123456789abcdef"[h[2] & 15]) + "; image sets hold unsigned bytes (0x08)");
      }
      if (h[3] < 1 || h[3] > kMaxIdxDims) {
        throw IdxError("it declares " + std::to_string(h[3]) + " dimensions (expected 1 to " +
                       std::to_string(kMaxIdxDims) + ")");
      }
    }
    if (header_.size() < 4 || header_.size() != 4 + 4 * static_cast<size_t>(h[3])) return;
    uint64_t total = 1;
    for (size_t d = 0; d < h[3]; ++d) {
      const unsigned char* b = h + 4 + 4 * d;
      const uint64_t v = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
      if (v == 0) throw IdxError("its dimension " + std::to_string(d) + " is 0");
      total *= v;  // at most 4 factors below 2^32 each: checked against the bound after each one
      if (total > max_bytes_) {
        throw IdxError("its header declares more than " + std::to_string(max_bytes_) +
                       " bytes of values (the limit; raise maxBytes to read it)");
      }
      dims_.push_back(static_cast<int64_t>(v));
    }
    total_ = total;
    values_ = at::empty({static_cast<int64_t>(total)}, at::kByte);
  }

  uint64_t max_bytes_;
  std::vector<char> header_;
  std::vector<int64_t> dims_;
  uint64_t total_ = 0, filled_ = 0;
  at::Tensor values_;
};

}  // namespace

IdxArray ReadIdxBytes(const char* data, size_t size, const std::string& name, uint64_t max_bytes) {
  try {
    IdxParser parser(max_bytes);
    if (IsGzip(data, size)) {
      Gunzip(data, size, [&](const char* p, size_t n) { parser.Feed(p, n); });
    } else {
      parser.Feed(data, size);
    }
    return parser.Finish();
  } catch (const IdxError& e) {
    throw std::runtime_error("Cannot read " + name + " as an IDX file: " + e.what());
  } catch (const GzipError& e) {
    throw std::runtime_error("Cannot read " + name + " as an IDX file: " + e.what());
  }
}

IdxArray ReadIdx(const std::string& path, uint64_t max_bytes) {
  const MappedFile file(path);
  return ReadIdxBytes(file.data() ? file.data() : "", file.size(), path, max_bytes);
}

std::shared_ptr<Dataset> LoadIdx(const std::string& images, const std::string& labels, int64_t classes,
                                 uint64_t max_bytes) {
  IdxArray x = ReadIdx(images, max_bytes);
  if (x.dims.size() != 3) {
    throw std::runtime_error(images + " holds " + std::to_string(x.dims.size()) +
                             "-dimensional values; an IDX image file holds N x H x W grey images");
  }
  IdxArray y = ReadIdx(labels, max_bytes);
  if (y.dims.size() != 1) {
    throw std::runtime_error(labels + " holds " + std::to_string(y.dims.size()) +
                             "-dimensional values; an IDX label file holds one label per image");
  }
  if (y.dims[0] != x.dims[0]) {
    throw std::runtime_error(labels + " holds " + std::to_string(y.dims[0]) + " labels but " + images + " holds " +
                             std::to_string(x.dims[0]) + " images");
  }
  auto l = y.values.to(at::kLong);
  if (classes == 0) classes = std::max<int64_t>(2, l.max().item<int64_t>() + 1);
  try {
    return DatasetFromPixels(x.values.unsqueeze(1), l, classes);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(images + " and " + labels + ": " + e.what());
  }
}

}  // namespace resnet_cifar
