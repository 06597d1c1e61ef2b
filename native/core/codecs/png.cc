#include "png.h"

#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include "crc32.h"
#include "inflate.h"

namespace resnet_cifar {
namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
constexpr uint32_t kMaxChunk = 0x7FFFFFFFu;  // the PNG specification's bound on a chunk's length

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool Is(const unsigned char* type, const char* name) { return std::memcmp(type, name, 4) == 0; }

// Colour types: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA; samples per pixel at 8 bits.
int SamplesOf(int colour_type) {
  switch (colour_type) {
    case 0:
    case 3: return 1;
    case 4: return 2;
    case 2: return 3;
    case 6: return 4;
    default: return 0;
  }
}

int Paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = p > a ? p - a : a - p, pb = p > b ? p - b : b - p, pc = p > c ? p - c : c - p;
  return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

// Reverses the row filters in place (each row: a filter byte, then `stride` bytes); false on an unknown filter.
bool Unfilter(unsigned char* rows, int64_t height, size_t stride, size_t bpp) {
  const unsigned char* prev = nullptr;
  for (int64_t y = 0; y < height; ++y) {
    unsigned char* row = rows + static_cast<size_t>(y) * (stride + 1);
    const int filter = row[0];
    unsigned char* x = row + 1;
    switch (filter) {
      case 0: break;
      case 1:
        for (size_t i = bpp; i < stride; ++i) x[i] = static_cast<unsigned char>(x[i] + x[i - bpp]);
        break;
      case 2:
        if (prev)
          for (size_t i = 0; i < stride; ++i) x[i] = static_cast<unsigned char>(x[i] + prev[i]);
        break;
      case 3:
        for (size_t i = 0; i < stride; ++i) {
          const int a = i >= bpp ? x[i - bpp] : 0, b = prev ? prev[i] : 0;
          x[i] = static_cast<unsigned char>(x[i] + ((a + b) >> 1));
        }
        break;
      case 4:
        for (size_t i = 0; i < stride; ++i) {
          const int a = i >= bpp ? x[i - bpp] : 0, b = prev ? prev[i] : 0, c = (prev && i >= bpp) ? prev[i - bpp] : 0;
          x[i] = static_cast<unsigned char>(x[i] + Paeth(a, b, c));
        }
        break;
      default: return false;
    }
    prev = x;
  }
  return true;
}

PngResult Decode(const unsigned char* data, size_t size, int64_t height, int64_t width, int64_t channels,
                 int64_t max_pixels, unsigned char* out) {
  if (!HaveInflateZlib() || size < 8 + 25 || std::memcmp(data, kSignature, 8) != 0) return PngResult::kNotHandled;
  if (channels != 1 && channels != 3) return PngResult::kNotHandled;
  int colour_type = -1;
  int64_t w = 0, h = 0;
  const unsigned char* palette = nullptr;
  size_t palette_entries = 0;
  std::vector<unsigned char> idat;
  bool seen_idat = false, idat_done = false, ended = false;
  bool seen_ancillary[3] = {false, false, false};  // tRNS, sRGB, pHYs
  size_t at = 8;
  for (bool first = true; at + 12 <= size; first = false) {
    const uint32_t length = Be32(data + at);
    const unsigned char* type = data + at + 4;
    if (length > kMaxChunk || length > size - at - 12) return PngResult::kNotHandled;
    const unsigned char* body = type + 4;
    if (Crc32Update(0, type, size_t{length} + 4) != Be32(body + length)) return PngResult::kNotHandled;
    at += size_t{length} + 12;
    if (first != Is(type, "IHDR")) return PngResult::kNotHandled;
    if (Is(type, "IHDR")) {
      if (length != 13) return PngResult::kNotHandled;
      w = Be32(body);
      h = Be32(body + 4);
      colour_type = body[9];
      // 8 bits a sample, deflate, the standard filters, not interlaced: else sharp.
      if (body[8] != 8 || SamplesOf(colour_type) == 0 || body[10] != 0 || body[11] != 0 || body[12] != 0) {
        return PngResult::kNotHandled;
      }
      if (w != width || h != height || w * h > max_pixels) return PngResult::kNotHandled;
      // A grey network takes grey files only here (sharp makes colour grey in linear light).
      if (channels == 1 && colour_type != 0 && colour_type != 4) return PngResult::kNotHandled;
    } else if (Is(type, "PLTE")) {
      // One PLTE, before tRNS and the image data, not for grey images (libspng refuses the file otherwise).
      if (length == 0 || length % 3 != 0 || length > 256 * 3 || seen_idat || palette != nullptr || seen_ancillary[0] ||
          colour_type == 0 || colour_type == 4) {
        return PngResult::kNotHandled;
      }
      palette = body;
      palette_entries = length / 3;
    } else if (Is(type, "IDAT")) {
      if (idat_done) return PngResult::kNotHandled;  // IDAT chunks must be consecutive
      seen_idat = true;
      idat.insert(idat.end(), body, body + length);
      continue;
    }
    if (seen_idat) idat_done = true;
    if (Is(type, "IHDR") || Is(type, "PLTE")) continue;  // handled above
    if (Is(type, "IEND")) {
      ended = true;
      break;
    }
    // Only the chunks whose rules this fast path checks as sharp's decoder (libspng) does; anything else (a colour
    // profile, orientation, text, animation, …) is sharp's. gAMA, cHRM and sBIT are left to it too.
    const int seen = Is(type, "tRNS") ? 0 : Is(type, "sRGB") ? 1 : Is(type, "pHYs") ? 2 : -1;
    if (seen < 0 || seen_ancillary[seen] || seen_idat) return PngResult::kNotHandled;
    seen_ancillary[seen] = true;
    if (seen == 0) {
      // tRNS: dropped with the alpha; present where libspng takes it (not on images with an alpha channel).
      const bool fits = colour_type == 3   ? (palette != nullptr && length >= 1 && length <= palette_entries)
                        : colour_type == 0 ? length == 2
                        : colour_type == 2 ? length == 6
                                           : false;
      if (!fits) return PngResult::kNotHandled;
    } else if (seen == 1 ? (length != 1 || palette != nullptr) : length != 9) {
      return PngResult::kNotHandled;
    }
  }
  if (!ended || !seen_idat || idat.size() < 2) return PngResult::kNotHandled;
  if (colour_type == 3 && palette == nullptr) return PngResult::kNotHandled;
  // The zlib wrapper: deflate, a window of at most 32 KiB, no preset dictionary, a valid check.
  const unsigned cmf = idat[0], flg = idat[1];
  if ((cmf & 0x0F) != 8 || (cmf >> 4) > 7 || (flg & 0x20) || ((cmf << 8) | flg) % 31 != 0)
    return PngResult::kNotHandled;
  const size_t samples = static_cast<size_t>(SamplesOf(colour_type));
  const size_t stride = static_cast<size_t>(w) * samples;
  const size_t raw_size = static_cast<size_t>(h) * (stride + 1);
  std::vector<unsigned char> raw(raw_size);
  if (!InflateZlibExact(idat.data(), idat.size(), raw.data(), raw_size)) return PngResult::kNotHandled;
  if (!Unfilter(raw.data(), h, stride, samples)) return PngResult::kNotHandled;
  for (int64_t y = 0; y < h; ++y) {
    const unsigned char* row = raw.data() + static_cast<size_t>(y) * (stride + 1) + 1;
    for (int64_t x = 0; x < w; ++x) {
      const unsigned char* s = row + static_cast<size_t>(x) * samples;
      unsigned char* d = out + (static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)) * channels;
      if (colour_type == 3) {
        if (s[0] >= palette_entries) return PngResult::kNotHandled;  // an index past the palette: sharp decides
        std::memcpy(d, palette + 3 * size_t{s[0]}, 3);
      } else if (channels == 1 || colour_type == 2 || colour_type == 6) {
        std::memcpy(d, s, static_cast<size_t>(channels));  // grey from grey (+ alpha); RGB from RGB (+ alpha)
      } else {
        d[0] = d[1] = d[2] = s[0];  // grey (+ alpha) as sRGB
      }
    }
  }
  return PngResult::kDecoded;
}

}  // namespace

PngResult DecodePng(const unsigned char* data, size_t size, int64_t height, int64_t width, int64_t channels,
                    int64_t max_pixels, unsigned char* out) {
  try {
    return Decode(data, size, height, width, channels, max_pixels, out);
  } catch (const std::bad_alloc&) {
    return PngResult::kNotHandled;
  } catch (const std::exception&) {
    return PngResult::kNotHandled;
  }
}

}  // namespace resnet_cifar
