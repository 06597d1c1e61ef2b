#include "sync_bn.h"

#include <torch/torch.h>

#include <cstdint>

namespace resnet_cifar {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = the sum of t over the ranks; dy/dt: the gradients summed over the ranks. The callback travels as an address
// (autograd's saved data holds only IValues); SyncBatchNorm's contract keeps it alive through the backward pass.
struct AllReduceFunction : torch::autograd::Function<AllReduceFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor t, int64_t fn) {
    ctx->saved_data["fn"] = fn;
    auto y = t.clone();
    (*reinterpret_cast<const AllReduceSum*>(fn))(y);
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = grads[0].contiguous().clone();
    (*reinterpret_cast<const AllReduceSum*>(ctx->saved_data["fn"].toInt()))(g);
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SyncBatchNorm(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn, const AllReduceSum& all_reduce) {
  const int64_t C = x.size(1);
  const auto xf = x.to(torch::kFloat);
  const std::vector<int64_t> dims{0, 2, 3};
  // [Σx (C), Σx² (C), count]: one all-reduce per layer in the forward pass, one in the backward.
  const auto count = torch::full({1}, static_cast<double>(x.numel() / C), torch::kDouble);
  const auto local =
      torch::cat({xf.sum(dims, false, torch::kDouble), xf.square().sum(dims, false, torch::kDouble), count});
  const auto global = AllReduceFunction::apply(local, reinterpret_cast<int64_t>(&all_reduce));
  const auto n = global[2 * C].detach();
  const auto mean = global.narrow(0, 0, C) / n;
  const auto var = (global.narrow(0, C, C) / n - mean.square()).clamp_min(0.0);
  const auto invstd = (var + bn.options.eps()).rsqrt();
  const auto scale = (invstd * bn.weight.to(torch::kDouble)).to(torch::kFloat).view({1, C, 1, 1});
  const auto shift =
      (bn.bias.to(torch::kDouble) - mean * invstd * bn.weight.to(torch::kDouble)).to(torch::kFloat).view({1, C, 1, 1});
  {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
    const double m =
        bn.options.momentum().has_value() ? *bn.options.momentum() : 1.0 / bn.num_batches_tracked.item<double>();
    const double total = n.item<double>();
    const auto unbiased = var.detach() * (total > 1 ? total / (total - 1) : 1.0);
    bn.running_mean.mul_(1 - m).add_(mean.detach().to(bn.running_mean.dtype()), m);
    bn.running_var.mul_(1 - m).add_(unbiased.to(bn.running_var.dtype()), m);
  }
  return (xf * scale + shift).to(x.scalar_type());
}

}  // namespace resnet_cifar
