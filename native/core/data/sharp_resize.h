// How sharp (0.34, libvips 8.17) shrinks a JPEG to a dataset's size, done here so the addon's JPEG fast path gives
// sharp's bytes: its shrink-on-load choice (the JPEG decoded at a DCT scale of 1/2, 1/4 or 1/8), then vips_resize's
// Lanczos3 reduce, vertical then horizontal, in libvips's 12-bit fixed point. Only the cases where that arithmetic is
// exact are taken (the same aspect ratio, a reduce factor that is a multiple of 1/128, no box pre-shrink); the rest
// are sharp's.
#pragma once

#include <cstdint>

#include "../base/image_shape.h"

namespace resnet_cifar {

// The DCT scale (1, 2, 4 or 8) sharp's resize(width, height, fit) decodes a height × width JPEG at, when the image
// has the target's aspect ratio and is at least its size; 0 otherwise (left to sharp).
int SharpJpegShrink(int64_t height, int64_t width, int64_t out_height, int64_t out_width);

// Reduces `in` (height × width × shape.channels, interleaved) to shape.height × shape.width into `out` as sharp's
// resize does after shrink-on-load. False, with `out` untouched, for a case this path leaves to sharp.
bool ReduceLikeSharp(const uint8_t* in, int64_t height, int64_t width, const ImageShape& shape, uint8_t* out);

}  // namespace resnet_cifar
