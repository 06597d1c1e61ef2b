// Fuzz target jpeg: the JPEG fast path fromFolder decodes common JPEGs with (native/core/codecs/jpeg.h: the vendored
// libjpeg-turbo decompressor, our error manager, marker checks and EXIF reader), at each DCT scale, as colour and as
// grey, under a pixel limit that lets every small image through; then as fromFolder runs it, shrunk to 32×32 and to
// 24×40 as sharp would (native/core/data/sharp_resize.h), fit 'cover' and not.
#include <cstdint>
#include <vector>

#include "../../native/core/base/image_shape.h"
#include "../../native/core/codecs/jpeg.h"
#include "../../native/core/data/sharp_resize.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = int64_t{1} << 22;
  for (int shrink : {1, 2, 4, 8}) {
    for (int64_t channels : {3, 1}) {
      JpegImage out;
      (void)DecodeJpeg(
          data, size, channels, kMaxPixels, [shrink](int64_t, int64_t) { return shrink; }, out);
    }
  }
  for (const ImageShape shape : {ImageShape{3, 32, 32}, ImageShape{1, 24, 40}}) {
    for (bool cover : {true, false}) {
      JpegImage img;
      const auto shrink_for = [&](int64_t h, int64_t w) {
        return SharpJpegShrink(h, w, shape.height, shape.width, cover);
      };
      if (DecodeJpeg(data, size, shape.channels, kMaxPixels, shrink_for, img) != JpegResult::kDecoded) continue;
      std::vector<uint8_t> out(static_cast<size_t>(shape.Pixels()));
      (void)ReduceLikeSharp(img.pixels.data(), img.height, img.width, shape, cover, out.data());
    }
  }
  return 0;
}
