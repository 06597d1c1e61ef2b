// Input normalization, one value from the trainer through checkpoints to evaluation: its kind and its statistics.
//   pixel    the paper's per-pixel mean of the training set (3 x 32 x 32 values), std 1
//   channel  per-channel mean and std of the training set (3 + 3 values)
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

namespace resnet_cifar {

enum class NormKind { kPixel, kChannel };

NormKind ParseNormKind(const std::string& s);  // "pixel" | "channel"; std::invalid_argument otherwise
const char* NormKindName(NormKind k);

struct Normalization {
  NormKind kind = NormKind::kChannel;
  at::Tensor mean;  // float, CPU: (1, 3, 32, 32) for pixel, (1, 3, 1, 1) for channel
  at::Tensor std;   // float, CPU: (1, 3, 1, 1)

  // Statistics of uint8 N x 3 x 32 x 32 images (of pixels / 255, computed in double).
  static Normalization Of(NormKind kind, const at::Tensor& images_u8);
  // From flat values: pixel takes 3072 means (std 1), channel 3 means and 3 positive stds; invalid_argument else.
  static Normalization FromValues(NormKind kind, const std::vector<float>& mean, const std::vector<float>& std);

  // uint8 images (N x 3 x 32 x 32, any device, any memory format) -> normalized float of the same device and layout.
  at::Tensor Apply(const at::Tensor& images_u8) const;
  // One pixel value v of channel c, given that pixel's mean.
  static inline float Value(uint8_t v, float mean, float std) { return (static_cast<float>(v) / 255.0f - mean) / std; }

  std::vector<float> MeanValues() const;
  std::vector<float> StdValues() const;

  // As stored in checkpoint meta: {"kind": str, "mean": [float...], "std": [float...]}.
  c10::impl::GenericDict ToDict() const;
  // The inverse; a std::runtime_error naming `source` when the dict is malformed.
  static Normalization FromDict(const c10::IValue& v, const std::string& source);
};

}  // namespace resnet_cifar
