// Eval-mode inference with every BatchNorm folded into the convolution before it: conv(x, w·s) + (β - μ·s), with
// s = γ / sqrt(σ² + ε) (in float32, as ONNX Runtime folds), channels-last, under at::InferenceMode: half the
// operators of the module's forward and no BatchNorm kernels. Folded for each call from the weights as they are
// (no copy outlives the call, so nothing can go stale and a dropped model leaves nothing behind). Plain C++.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <vector>

#include "resnet.h"

namespace resnet_cifar {

struct FoldedConv {
  at::Tensor weight, bias;
  int64_t stride = 1, padding = 1;
};

struct FoldedBlock {
  FoldedConv conv1, conv2;
  std::optional<FoldedConv> projection;  // option B where the shape changes
  bool plain = false;
  int64_t subsample = 1, planes = 0;  // option A where the shape changes: subsample by this and zero-pad
};

struct FoldedNet {
  FoldedConv stem;
  std::vector<FoldedBlock> blocks;
  at::Tensor fc_weight, fc_bias;
};

// net's eval-mode computation, folded (net itself is unchanged).
std::shared_ptr<const FoldedNet> Fold(ResNetImpl& net);
// Logits of NCHW images (float), as net's eval-mode forward gives them up to rounding.
at::Tensor FoldedForward(const FoldedNet& f, const at::Tensor& images);

}  // namespace resnet_cifar
