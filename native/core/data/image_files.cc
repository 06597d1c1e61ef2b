#include "image_files.h"

#include <ATen/Parallel.h>

#include <exception>

#include "../base/files.h"
#include "../codecs/png.h"

namespace resnet_cifar {

namespace {
// Files per task of the parallel loop (a 32×32 PNG decodes in tens of microseconds).
constexpr int64_t kFilesPerTask = 16;
}  // namespace

std::vector<uint8_t> DecodeImageFiles(const std::vector<std::string>& files, const ImageShape& shape,
                                      int64_t max_pixels, uint8_t* out) {
  std::vector<uint8_t> decoded(files.size(), 0);
  const auto per = static_cast<size_t>(shape.Pixels());
  at::parallel_for(0, static_cast<int64_t>(files.size()), kFilesPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        const auto& f = files[static_cast<size_t>(i)];
        if (RegularFileSize(f) > kMaxFastPathFileBytes) continue;
        const std::vector<char> bytes = ReadFile(f);
        decoded[static_cast<size_t>(i)] =
            DecodePng(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), shape.height, shape.width,
                      shape.channels, max_pixels, out + static_cast<size_t>(i) * per) == PngResult::kDecoded;
      } catch (const std::exception&) {
        // unreadable here: the caller's decoder says why
      }
    }
  });
  return decoded;
}

}  // namespace resnet_cifar
