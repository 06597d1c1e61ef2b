// Evaluation of any classifier on a dataset (our networks, TorchScript modules, the trainer's periodic
// evaluation), and the one definition of error %.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <vector>

#include "../base/precision.h"
#include "../data/dataset.h"
#include "../data/normalization.h"

namespace resnet_cifar {

// 100 * (count - correct) / count; 0 for no images.
double ErrorPercent(int64_t count, int64_t correct);

struct EvalResult {
  int64_t classes = 0;
  int64_t count = 0;
  double loss_sum = 0;
  std::vector<int64_t> confusion;  // classes x classes, row = true class, column = predicted

  int64_t Correct() const;
  double Error() const { return ErrorPercent(count, Correct()); }
  double MeanLoss() const { return count ? loss_sum / static_cast<double>(count) : 0; }
  int64_t ClassCount(int64_t c) const;
  double ClassError(int64_t c) const;
};

// No grad, in batches of `batch`, the forward pass at `precision` (loss and counts in float). `forward` maps a
// normalized float batch on `device` to logits of [b, classes]; the caller sets eval mode and holds any lock.
EvalResult Evaluate(const std::function<at::Tensor(const at::Tensor&)>& forward, c10::Device device,
                    const Dataset& data, int64_t batch, const Normalization& norm, int64_t classes,
                    Precision precision = Precision::kFp32);

}  // namespace resnet_cifar
