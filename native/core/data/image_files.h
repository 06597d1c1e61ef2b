// Image files decoded by this library's own fast paths (codecs/png, codecs/jpeg + data/sharp_resize), many at once on
// libtorch's threads: what a folder dataset reads before it hands the rest to sharp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../base/image_shape.h"

namespace resnet_cifar {

// A file larger than this is left to sharp (no image this path takes, at most 256 × 256, is near it).
constexpr uint64_t kMaxFastPathFileBytes = 16u << 20;

// Decodes each of `files` that a fast path takes into out + i × shape.Pixels() (height × width × channels,
// interleaved, as sharp gives them, resized as sharp's fit 'cover' when `cover`, else with the aspect ratio kept);
// returns 1 for each file decoded, 0 for each left to the caller (another format or size, a feature left to sharp, an
// unreadable or damaged file). Never throws for a file.
std::vector<uint8_t> DecodeImageFiles(const std::vector<std::string>& files, const ImageShape& shape,
                                      int64_t max_pixels, bool cover, uint8_t* out);

}  // namespace resnet_cifar
