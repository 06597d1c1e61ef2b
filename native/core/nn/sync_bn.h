// Synchronized BatchNorm for data-parallel training: in training mode the batch statistics are those of every
// rank's batch together (the global batch), as if one process trained on it, instead of each rank's own (what
// DistributedDataParallel does by default). Plain libtorch ops in float32 with the sums in float64, differentiated
// by autograd; the all-reduce of the sums is itself differentiable (its gradient is the all-reduce of the
// gradients), so the backward pass exchanges the two per-channel gradient sums as PyTorch's SyncBatchNorm does.
#pragma once

#include <torch/nn/modules/batchnorm.h>

#include <functional>
#include <memory>

namespace resnet_cifar {

// Sums a CPU tensor over the ranks, in place (the same call, in the same order, on every rank).
using AllReduceSum = std::function<void(at::Tensor&)>;

// bn(x) in training mode over the global batch: normalizes with the global mean and biased variance, updates bn's
// running statistics (momentum, unbiased global variance) and num_batches_tracked as BatchNorm2d does, so they stay
// equal on every rank. x: (N, C, H, W), float32 or bfloat16 (the result has x's dtype). `all_reduce` must outlive
// the backward pass of the result.
torch::Tensor SyncBatchNorm(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn, const AllReduceSum& all_reduce);

}  // namespace resnet_cifar
