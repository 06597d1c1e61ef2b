// A fast path for PNG files: the common PNGs (8-bit grey, grey + alpha, RGB, RGBA or palette, not interlaced, no
// colour profile, gamma or orientation) decoded here to interleaved bytes, exactly as sharp decodes them; anything
// else is left to sharp (the caller's slow path), which also says what is wrong with a damaged file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace resnet_cifar {

// What DecodePng did: decoded into `out`; or the file is not a PNG this fast path takes (another format, another
// size than asked for, a feature it leaves to sharp, or damage: sharp decides).
enum class PngResult { kDecoded, kNotHandled };

// Decodes data[0, size) into out (height × width × channels bytes, interleaved) when it is a PNG of exactly that
// size this fast path takes and has at most max_pixels pixels. channels 3: sRGB (grey repeated, alpha dropped, a
// palette looked up); channels 1: grey images only. Never throws; out's bytes mean nothing unless it returns kDecoded.
PngResult DecodePng(const unsigned char* data, size_t size, int64_t height, int64_t width, int64_t channels,
                    int64_t max_pixels, unsigned char* out);

}  // namespace resnet_cifar
