// How sharp (0.34, libvips 8.17) shrinks a JPEG to a dataset's size, done here so the addon's JPEG fast path gives
// sharp's bytes: its shrink-on-load choice (the JPEG decoded at a DCT scale of 1/2, 1/4 or 1/8), then vips_resize's
// Lanczos3 reduce, vertical then horizontal, in libvips's 12-bit fixed point with its positions summed in double as
// it sums them, then fit 'cover''s centre crop. Left to sharp: a reduce of 4× or more after the load (libvips
// box-shrinks first), an upscale, and another aspect ratio at another fit.
#pragma once

#include <cstdint>

#include "../base/image_shape.h"

namespace resnet_cifar {

// The DCT scale (1, 2, 4 or 8) sharp's resize(out_width, out_height, fit) decodes a height × width JPEG at, when the
// image is at least the target's size on one axis and, unless `cover` (fit 'cover'), has its aspect ratio; 0
// otherwise (left to sharp).
int SharpJpegShrink(int64_t height, int64_t width, int64_t out_height, int64_t out_width, bool cover);

// Resizes `in` (height × width × shape.channels, interleaved) to shape.height × shape.width into `out` as sharp's
// resize does after shrink-on-load (fit 'cover' when `cover`, which crops the centre). False, with `out` untouched,
// for a case this path leaves to sharp.
bool ReduceLikeSharp(const uint8_t* in, int64_t height, int64_t width, const ImageShape& shape, bool cover,
                     uint8_t* out);

}  // namespace resnet_cifar
