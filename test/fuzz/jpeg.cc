// Fuzz target jpeg: the JPEG fast path fromFolder decodes common JPEGs with (native/core/codecs/jpeg.h: the vendored
// libjpeg-turbo decompressor, our error manager, marker checks and EXIF reader), at each DCT scale, as colour and as
// grey, under a pixel limit that lets every small image through.
#include <cstdint>

#include "../../native/core/codecs/jpeg.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int shrink : {1, 2, 4, 8}) {
    for (int64_t channels : {3, 1}) {
      JpegImage out;
      (void)DecodeJpeg(
          data, size, channels, int64_t{1} << 22, [shrink](int64_t, int64_t) { return shrink; }, out);
    }
  }
  return 0;
}
