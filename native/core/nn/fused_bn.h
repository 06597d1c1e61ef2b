// Training-mode BatchNorm + ReLU (optionally + a residual before the ReLU) as one autograd function with
// hand-written CPU kernels for channels-last float32 or bfloat16 activations (float32 weights and statistics). Same
// maths and the same running-statistics update as torch::nn::BatchNorm2d followed by relu (or add_ then relu), in fewer
// passes over memory:
//   forward  2 passes (statistics; normalize + add + clamp) instead of 4-5,
//   backward 2 passes (reductions; input gradient) instead of 3, the ReLU mask recomputed, not stored.
// Other devices, dtypes, layouts and eval mode take the ordinary libtorch modules.
#pragma once

#include <torch/nn/modules/batchnorm.h>

#include "sync_bn.h"

namespace resnet_cifar {

// Whether bn(x) can take the fused CPU path (training mode, affine, running stats, float32 or bfloat16
// activations, float32 weights, channels-last).
bool FusedBnApplies(const torch::Tensor& x, const torch::nn::BatchNorm2d& bn);

// relu(bn(x) + residual); residual may be undefined (then relu(bn(x))). Updates bn's running statistics and
// num_batches_tracked exactly as BatchNorm2d::forward does in training mode. Requires FusedBnApplies(x, bn).
// With `sync`, the statistics are over every rank's batch together, as SyncBatchNorm (sync_bn.h) computes them;
// `sync` must outlive the backward pass.
torch::Tensor FusedBnRelu(const torch::Tensor& x, torch::nn::BatchNorm2d& bn, const torch::Tensor& residual = {},
                          const AllReduceSum* sync = nullptr);

// "openmp" when the kernels were built to run on libtorch's threads, else "single-thread" (then they are used
// only while libtorch runs one thread).
const char* FusedKernelThreading();

}  // namespace resnet_cifar
