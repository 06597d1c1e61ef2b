#include "sgd.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <stdexcept>

namespace resnet_cifar {

Sgd::Sgd(std::vector<at::Tensor> params, SgdOptions options) : params_(std::move(params)), opt_(options) {}

// The update direction (weight decay and momentum applied), then the gradients dropped.
std::vector<at::Tensor> Sgd::Direction() {
  std::vector<at::Tensor> grads;
  grads.reserve(params_.size());
  for (auto& p : params_) grads.push_back(p.grad());
  if (opt_.weight_decay != 0) grads = at::_foreach_add(grads, params_, opt_.weight_decay);
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
  if (opt_.momentum == 0) return grads;
  if (momentum_.empty()) {
    for (auto& g : grads) momentum_.push_back(g.clone().detach());
  } else {
    at::_foreach_mul_(momentum_, opt_.momentum);
    at::_foreach_add_(momentum_, grads, 1.0);
  }
  return momentum_;
}

void Sgd::Step(double lr) {
  c10::NoGradGuard no_grad;
  at::_foreach_add_(params_, Direction(), -lr);
}

void Sgd::Step(const at::Tensor& lr) {
  c10::NoGradGuard no_grad;
  if (opt_.momentum != 0 && momentum_.empty()) {
    throw std::logic_error("Sgd::Step(tensor) before the momentum buffers exist");
  }
  at::_foreach_sub_(params_, at::_foreach_mul(Direction(), lr));
}

}  // namespace resnet_cifar
