// Input normalization, one value from the trainer through checkpoints to evaluation: its kind and its statistics.
//   pixel    the paper's per-pixel mean of the training set (C x H x W values), std 1
//   channel  per-channel mean and std of the training set (C + C values)
// C is 3 for colour and 1 for grey images; a pixel mean fixes the image size it applies to (CheckFits).
// Applied to pixels / 255 as (x / 255 - mean) / std, in float. This file holds the C++ definition of that formula
// (lib/data/images.ts holds the TypeScript one, for image files), in its two evaluation forms: Value() for kernels
// that write each pixel once (the CPU batch kernel), Apply() as tensor ops on any device. Both give the same
// bits (test/trainer.test.ts compares the two batch paths built on them).
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>
#include <vector>

#include "../base/image_shape.h"

namespace resnet_cifar {

enum class NormKind { kPixel, kChannel };

NormKind ParseNormKind(const std::string& s);  // "pixel" | "channel"; std::invalid_argument otherwise
const char* NormKindName(NormKind k);

struct Normalization {
  NormKind kind = NormKind::kChannel;
  at::Tensor mean;  // float, CPU: (1, C, H, W) for pixel, (1, C, 1, 1) for channel
  at::Tensor std;   // float, CPU: (1, C, 1, 1)

  // Statistics of uint8 N x C x H x W images (of pixels / 255, computed in double).
  static Normalization Of(NormKind kind, const at::Tensor& images_u8);
  // From flat values, C = std.size() (1 or 3): pixel takes C x H x W means (std all 1), channel C means and C
  // positive stds. A pixel mean's H x W is `shape`'s when given, else square; invalid_argument otherwise.
  static Normalization FromValues(NormKind kind, const std::vector<float>& mean, const std::vector<float>& std,
                                  const std::optional<ImageShape>& shape = std::nullopt);

  int64_t Channels() const { return std.size(1); }
  // A pixel mean's image shape; nullopt for channel statistics (they fit any size).
  std::optional<ImageShape> PixelShape() const;
  // std::invalid_argument unless these statistics apply to images of `shape`.
  void CheckFits(const ImageShape& shape) const;

  // uint8 images (N x C x H x W, any device, any memory format) -> normalized float of the same device and layout.
  at::Tensor Apply(const at::Tensor& images_u8) const;
  // One pixel value v of channel c, given that pixel's mean.
  static inline float Value(uint8_t v, float mean, float std) { return (static_cast<float>(v) / 255.0f - mean) / std; }

  std::vector<float> MeanValues() const;
  std::vector<float> StdValues() const;

  // As stored in checkpoint meta: {"kind": str, "mean": [float...], "std": [float...]}, and "shape": [C, H, W] for
  // a pixel mean that is not square.
  c10::impl::GenericDict ToDict() const;
  // The inverse; a std::runtime_error naming `source` when the dict is malformed.
  static Normalization FromDict(const c10::IValue& v, const std::string& source);
};

}  // namespace resnet_cifar
