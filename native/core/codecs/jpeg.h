// A fast path for JPEG files: baseline and progressive 8-bit JPEGs in YCbCr or grey, with no colour profile and no
// EXIF rotation, decoded here by libjpeg-turbo (native/third_party) at a DCT scale of 1/1, 1/2, 1/4 or 1/8, with the
// settings libvips's jpegload uses, so the bytes are sharp's; anything else (and any file libjpeg warns about) is left
// to sharp, the caller's slow path, which also says what is wrong with a damaged file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace resnet_cifar {

// A JPEG larger than this is left to sharp (progressive files hold every coefficient: 6 bytes a pixel at 4:4:4).
constexpr int64_t kMaxFastPathJpegPixels = int64_t{1} << 24;

// A decoded (and possibly DCT-scaled) JPEG: height × width × channels bytes, interleaved.
struct JpegImage {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Given the file's full height and width, the DCT scale to decode at (1, 2, 4 or 8), or 0 to leave the file to sharp.
using JpegShrinkFor = std::function<int(int64_t height, int64_t width)>;

// What DecodeJpeg did: decoded into `out`; or the file is not a JPEG this fast path takes (another format, a feature
// it leaves to sharp, more than max_pixels pixels, damage or anything libjpeg warns about: sharp decides).
enum class JpegResult { kDecoded, kNotHandled };

// Decodes data[0, size) at the scale shrink_for picks. channels 3: sRGB (a grey JPEG's one channel repeated);
// channels 1: grey JPEGs only. Never throws; `out` means nothing unless it returns kDecoded.
JpegResult DecodeJpeg(const unsigned char* data, size_t size, int64_t channels, int64_t max_pixels,
                      const JpegShrinkFor& shrink_for, JpegImage& out);

}  // namespace resnet_cifar
