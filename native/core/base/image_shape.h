// The shape of one image of a dataset or a network's input: channels (1: grey, 3: RGB), height and width. CIFAR's
// 3 x 32 x 32 is the default; any shape within the bounds below is a dataset the trainer takes (no torch).
#pragma once

#include <cstdint>
#include <string>

namespace resnet_cifar {

constexpr int64_t kMinImageSide = 8;
constexpr int64_t kMaxImageSide = 256;
// Classes of a dataset: labels 0..classes-1 (a model's head may have as many as kMaxClasses).
constexpr int64_t kMinDatasetClasses = 2;
constexpr int64_t kMaxDatasetClasses = 1000;

struct ImageShape {
  int64_t channels = 3, height = 32, width = 32;

  int64_t Pixels() const { return channels * height * width; }
  int64_t Plane() const { return height * width; }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
  bool Valid() const {
    return (channels == 1 || channels == 3) && height >= kMinImageSide && height <= kMaxImageSide &&
           width >= kMinImageSide && width <= kMaxImageSide;
  }
  // "3x32x32"
  std::string ToString() const {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
};

}  // namespace resnet_cifar
