#include "image_files.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>

#include "../base/files.h"
#include "../codecs/jpeg.h"
#include "../codecs/png.h"
#include "sharp_resize.h"

namespace resnet_cifar {

namespace {
// Files per task of the parallel loop (a 32×32 PNG decodes in tens of microseconds, a 256×256 JPEG at 1/4 in a few
// hundred).
constexpr size_t kFilesPerTask = 16;

bool IsJpeg(const std::vector<char>& b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
         static_cast<unsigned char>(b[2]) == 0xFF;
}

// A JPEG of the dataset's aspect ratio, at least its size: decoded at the DCT scale sharp picks, then reduced to the
// dataset's size as sharp reduces it (data/sharp_resize). False for a file left to sharp.
bool DecodeJpegFile(const std::vector<char>& bytes, const ImageShape& shape, int64_t max_pixels, bool cover,
                    uint8_t* out) {
  const JpegShrinkFor shrink_for = [&](int64_t height, int64_t width) {
    return SharpJpegShrink(height, width, shape.height, shape.width, cover);
  };
  JpegImage img;
  if (DecodeJpeg(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), shape.channels, max_pixels,
                 shrink_for, img) != JpegResult::kDecoded) {
    return false;
  }
  return ReduceLikeSharp(img.pixels.data(), img.height, img.width, shape, cover, out);
}
}  // namespace

std::vector<uint8_t> DecodeImageFiles(const std::vector<std::string>& files, const ImageShape& shape,
                                      int64_t max_pixels, bool cover, uint8_t* out) {
  std::vector<uint8_t> decoded(files.size(), 0);
  const auto per = static_cast<size_t>(shape.Pixels());
  const auto decode = [&](size_t i) {
    try {
      const auto& f = files[i];
      if (RegularFileSize(f) > kMaxFastPathFileBytes) return;
      const std::vector<char> bytes = ReadFile(f);
      uint8_t* image = out + i * per;
      decoded[i] = IsJpeg(bytes)
                       ? DecodeJpegFile(bytes, shape, max_pixels, cover, image)
                       : DecodePng(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), shape.height,
                                   shape.width, shape.channels, max_pixels, image) == PngResult::kDecoded;
    } catch (const std::exception&) {
      // unreadable here: the caller's decoder says why
    }
  };
  // As many threads as libtorch's intra-op pool has, each taking the next kFilesPerTask files. Our own threads, not
  // at::parallel_for: that is OpenMP code inlined from a header, serial in a file compiled without -fopenmp.
  const size_t threads = std::min<size_t>(static_cast<size_t>(std::max(1, at::get_num_threads())),
                                          (files.size() + kFilesPerTask - 1) / kFilesPerTask);
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t at = next.fetch_add(kFilesPerTask); at < files.size(); at = next.fetch_add(kFilesPerTask)) {
      for (size_t i = at; i < std::min(files.size(), at + kFilesPerTask); ++i) decode(i);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones started (and this one) do the rest
    }
  }
  work();
  for (auto& t : pool) t.join();
  return decoded;
}

}  // namespace resnet_cifar
