#include "sgd.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <stdexcept>

namespace resnet_cifar {

Sgd::Sgd(std::vector<at::Tensor> params, SgdOptions options, std::vector<double> lr_scales)
    : params_(std::move(params)), opt_(options) {
  if (!lr_scales.empty() && lr_scales.size() != params_.size()) {
    throw std::invalid_argument("Sgd: one learning-rate multiple per parameter");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const double s = lr_scales.empty() ? 1.0 : lr_scales[i];
    auto g = std::find_if(groups_.begin(), groups_.end(), [&](const auto& e) { return e.first == s; });
    if (g == groups_.end()) g = groups_.insert(groups_.end(), {s, {}});
    g->second.push_back(i);
  }
}

static std::vector<at::Tensor> Pick(const std::vector<at::Tensor>& v, const std::vector<size_t>& idx) {
  std::vector<at::Tensor> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(v[i]);
  return out;
}

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
  if (groups_.size() == 1 && groups_[0].first == 1.0) {  // every parameter at the rate: one foreach, as before
    at::_foreach_add_(params_, Direction(), -lr);
    return;
  }
  const auto d = Direction();
  for (const auto& [scale, idx] : groups_) {
    auto ps = Pick(params_, idx);
    at::_foreach_add_(ps, Pick(d, idx), -lr * scale);
  }
}

void Sgd::Step(const at::Tensor& lr) {
  c10::NoGradGuard no_grad;
  if (opt_.momentum != 0 && momentum_.empty()) {
    throw std::logic_error("Sgd::Step(tensor) before the momentum buffers exist");
  }
  if (groups_.size() == 1 && groups_[0].first == 1.0) {
    at::_foreach_sub_(params_, at::_foreach_mul(Direction(), lr));
    return;
  }
  const auto d = Direction();
  for (const auto& [scale, idx] : groups_) {
    auto ps = Pick(params_, idx);
    at::_foreach_sub_(ps, at::_foreach_mul(Pick(d, idx), lr * scale));
  }
}

}  // namespace resnet_cifar
