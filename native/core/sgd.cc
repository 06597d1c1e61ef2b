#include "sgd.h"

#include <c10/core/GradMode.h>
#include <ATen/ATen.h>

namespace resnet_cifar {

Sgd::Sgd(std::vector<at::Tensor> params, SgdOptions options) : params_(std::move(params)), opt_(options) {}

void Sgd::Step(double lr) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  grads.reserve(params_.size());
  for (auto& p : params_) grads.push_back(p.grad());
  if (opt_.weight_decay != 0) grads = at::_foreach_add(grads, params_, opt_.weight_decay);
  if (opt_.momentum != 0) {
    if (momentum_.empty()) {
      for (auto& g : grads) momentum_.push_back(g.clone().detach());
    } else {
      at::_foreach_mul_(momentum_, opt_.momentum);
      at::_foreach_add_(momentum_, grads, 1.0);
    }
    at::_foreach_add_(params_, momentum_, -lr);
  } else {
    at::_foreach_add_(params_, grads, -lr);
  }
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
}

}  // namespace resnet_cifar
