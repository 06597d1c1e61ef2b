// SGD with momentum and weight decay as PyTorch's torch.optim.SGD (dampening 0, no Nesterov) with its foreach
// kernels: d = g + wd * p; buf = m * buf + d (buf = d on the first step); p -= lr * buf. Like torch::optim::SGD it
// owns its momentum buffers, one per parameter, in parameter order. Each parameter may have its own multiple of the
// learning rate (fine-tuning's per-stage rates, as torch.optim's parameter groups); the default is 1 for all.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace resnet_cifar {

struct SgdOptions {
  double momentum = 0.9;
  double weight_decay = 1e-4;
};

class Sgd {
 public:
  Sgd(std::vector<at::Tensor> params, SgdOptions options, std::vector<double> lr_scales = {});

  // One step from the parameters' gradients, which are then dropped (zero_grad(set_to_none=True)).
  void Step(double lr);
  // The same with the rate in a 0-dim float tensor on the parameters' device, for a step captured once as a CUDA
  // graph and replayed with a new rate each time (the momentum buffers must exist already: one Step before).
  void Step(const at::Tensor& lr);

  // Empty before the first step (and for momentum 0).
  const std::vector<at::Tensor>& momentum() const { return momentum_; }
  // Buffers in parameter order, e.g. from a checkpoint (already on the parameters' device and layout).
  void set_momentum(std::vector<at::Tensor> buffers) { momentum_ = std::move(buffers); }

 private:
  std::vector<at::Tensor> Direction();

  // Parameter indices by learning-rate multiple (one group of all at 1 when none is given).
  std::vector<std::pair<double, std::vector<size_t>>> groups_;
  std::vector<at::Tensor> params_;
  SgdOptions opt_;
  std::vector<at::Tensor> momentum_;
};

}  // namespace resnet_cifar
