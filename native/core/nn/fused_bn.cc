// Fused training-mode BatchNorm + (residual) + ReLU for channels-last float32 or bfloat16 CPU tensors. See fused_bn.h.
//
// A channels-last (N, C, H, W) tensor is R = N*H*W rows of C contiguous channels. Every pass walks fixed blocks of
// kRows rows in parallel; per-block partial sums are combined in block order in double, so results do not depend
// on the thread count. The ReLU mask is recomputed in the backward pass from the saved input with the same float
// expression as the forward pass; contraction into FMA is off in this file so both give the same bits on every
// instruction set the kernels are cloned for. at::parallel_for needs this file compiled with -fopenmp (both builds
// do that when libtorch ships its libgomp, and link that same runtime). bfloat16 activations are widened to float
// in registers and every sum and statistic is kept in float/double; outputs are rounded to nearest even, as
// c10::BFloat16 does.
#pragma GCC optimize("fp-contract=off")
#pragma GCC diagnostic ignored "-Wpsabi"  // V16 values never cross a non-inline call

#include "fused_bn.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define RC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RC_CLONES
#endif
#define RC_INLINE inline __attribute__((always_inline))

namespace resnet_cifar {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kRows = 256;

// The kernels: statistics, forward output, backward reductions and input gradient, per element type.
#include "fused_bn_kernels.h"

// Runs fn(block, first_row, rows) over the fixed blocks of R rows in parallel.
template <class Fn>
void ForBlocks(int64_t R, const Fn& fn) {
  const int64_t blocks = (R + kRows - 1) / kRows;
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kRows;
      fn(b, r0, std::min(kRows, R - r0));
    }
  });
}

torch::Tensor F32(const std::vector<double>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kFloat);
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<float>()[i] = static_cast<float>(v[i]);
  return t;
}

// The two autograd functions below (without and with a residual) share these two halves. autograd cannot take an
// undefined tensor as an input, hence two functions rather than one with an optional residual.
// T is the activations' element type (float or bfloat16); weights, statistics and gradients of the weights are float.
// `sync` (an AllReduceSum's address, or 0) makes the statistics those of every rank's batch together: the
// per-channel sums are all-reduced between the statistics pass and the output pass, and the two gradient sums
// between the backward passes (the weight and bias gradients stay this rank's, for the gradient all-reduce).
struct BnRelu {
  static torch::Tensor Forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& residual, torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum, double eps, int64_t sync) {
    ctx->saved_data["sync"] = sync;
    if (x.scalar_type() == torch::kBFloat16) {
      return ForwardT<BF16>(ctx, x, weight, bias, residual, running_mean, running_var, momentum, eps);
    }
    return ForwardT<float>(ctx, x, weight, bias, residual, running_mean, running_var, momentum, eps);
  }

  static variable_list Backward(AutogradContext* ctx, const variable_list& grads) {
    if (ctx->get_saved_variables()[0].scalar_type() == torch::kBFloat16) return BackwardT<BF16>(ctx, grads);
    return BackwardT<float>(ctx, grads);
  }

  template <class T>
  static torch::Tensor ForwardT(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias, const torch::Tensor& residual, torch::Tensor running_mean,
                                torch::Tensor running_var, double momentum, double eps) {
    const int64_t C = x.size(1), R = x.numel() / C;
    const T* xp = x.data_ptr<T>();
    // Statistics (biased variance for normalizing, unbiased for the running estimate, as BatchNorm does).
    const int64_t blocks = (R + kRows - 1) / kRows;
    std::vector<float> p1(blocks * C), p2(blocks * C);
    ForBlocks(R, [&](int64_t b, int64_t r0, int64_t rows) { Stats(xp + r0 * C, rows, C, &p1[b * C], &p2[b * C]); });
    std::vector<double> mean(C), var(C), invstd(C), scale(C), beta(C);
    auto w = weight.contiguous(), bi = bias.contiguous();
    const float* wp = w.data_ptr<float>();
    const float* bp = bi.data_ptr<float>();
    for (int64_t c = 0; c < C; ++c) {
      double m = 0, m2 = 0;
      for (int64_t b = 0; b < blocks; ++b) m += static_cast<double>(p1[b * C + c]) * std::min(kRows, R - b * kRows);
      m /= R;
      for (int64_t b = 0; b < blocks; ++b) {
        const double d = p1[b * C + c] - m;
        m2 += p2[b * C + c] + d * d * std::min(kRows, R - b * kRows);
      }
      mean[c] = m;
      var[c] = std::max(0.0, m2 / R);
    }
    double count = static_cast<double>(R);
    if (const auto* sync = reinterpret_cast<const AllReduceSum*>(ctx->saved_data["sync"].toInt())) {
      // [Σx, Σx², n] over the ranks, in double; then the global mean and biased variance.
      auto t = torch::empty({2 * C + 1}, torch::kDouble);
      double* s = t.data_ptr<double>();
      for (int64_t c = 0; c < C; ++c) s[c] = mean[c] * R, s[C + c] = (var[c] + mean[c] * mean[c]) * R;
      s[2 * C] = count;
      (*sync)(t);
      s = t.data_ptr<double>();
      count = s[2 * C];
      for (int64_t c = 0; c < C; ++c) {
        mean[c] = s[c] / count;
        var[c] = std::max(0.0, s[C + c] / count - mean[c] * mean[c]);
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      invstd[c] = 1.0 / std::sqrt(var[c] + eps);
      scale[c] = wp[c] * invstd[c];
      beta[c] = bp[c];
    }
    auto mean_f = F32(mean), invstd_f = F32(invstd), scale_f = F32(scale), bias_f = F32(beta);
    // Output.
    auto out = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    torch::Tensor res;
    if (residual.defined()) res = residual.contiguous(torch::MemoryFormat::ChannelsLast);
    const T* rp = res.defined() ? res.data_ptr<T>() : nullptr;
    T* op = out.data_ptr<T>();
    const float* sp = scale_f.data_ptr<float>();
    const float* hp = bias_f.data_ptr<float>();
    const float* mp = mean_f.data_ptr<float>();
    ForBlocks(R, [&](int64_t, int64_t r0, int64_t rows) {
      Norm(xp + r0 * C, rp ? rp + r0 * C : nullptr, op + r0 * C, rows, C, Chan{sp, hp, mp});
    });
    // Running statistics: (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    if (running_mean.defined() && running_var.defined()) {
      auto unbiased = torch::tensor(var, torch::kDouble).mul_(count > 1 ? count / (count - 1) : 1.0);
      running_mean.mul_(1 - momentum).add_(torch::tensor(mean, torch::kDouble).to(running_mean.dtype()), momentum);
      running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype()), momentum);
    }
    ctx->saved_data["mean"] = mean_f;
    ctx->saved_data["invstd"] = invstd_f;
    ctx->saved_data["scale"] = scale_f;
    ctx->saved_data["bias"] = bias_f;
    ctx->saved_data["residual"] = residual.defined();
    ctx->saved_data["count"] = count;
    if (residual.defined()) {
      ctx->save_for_backward({x, weight, out});
    } else {
      ctx->save_for_backward({x, weight});
    }
    return out;
  }

  // Gradients of x, weight, bias and (when there is one) the residual.
  template <class T>
  static variable_list BackwardT(AutogradContext* ctx, const variable_list& grads) {
    auto saved = ctx->get_saved_variables();
    const bool has_res = ctx->saved_data["residual"].toBool();
    const auto& x = saved[0];
    auto w = saved[1].contiguous();
    torch::Tensor out = has_res ? saved[2] : torch::Tensor();
    auto dy = grads[0].to(saved[0].scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
    auto mean = ctx->saved_data["mean"].toTensor(), invstd = ctx->saved_data["invstd"].toTensor();
    auto scale = ctx->saved_data["scale"].toTensor(), beta = ctx->saved_data["bias"].toTensor();
    const int64_t C = x.size(1), R = x.numel() / C;
    const T* xp = x.data_ptr<T>();
    const T* dp = dy.data_ptr<T>();
    const T* op = out.defined() ? out.data_ptr<T>() : nullptr;
    const Chan ch{scale.data_ptr<float>(), beta.data_ptr<float>(), mean.data_ptr<float>()};
    const int64_t blocks = (R + kRows - 1) / kRows;
    std::vector<float> p1(blocks * C), p2(blocks * C);
    ForBlocks(R, [&](int64_t b, int64_t r0, int64_t rows) {
      GradSum(xp + r0 * C, dp + r0 * C, op ? op + r0 * C : nullptr, rows, C, ch, &p1[b * C], &p2[b * C]);
    });
    std::vector<double> sg(C, 0.0), sgx(C, 0.0), k1(C), k2(C), k3(C), dw(C);
    const float* wp = w.data_ptr<float>();
    const float* is = invstd.data_ptr<float>();
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t b = 0; b < blocks; ++b) sg[c] += p1[b * C + c], sgx[c] += p2[b * C + c];
      dw[c] = sgx[c] * is[c];
    }
    // The input gradient takes the sums over the batch the statistics came from: every rank's when synchronized.
    std::vector<double> gsg = sg, gsgx = sgx;
    if (const auto* sync = reinterpret_cast<const AllReduceSum*>(ctx->saved_data["sync"].toInt())) {
      auto t = torch::empty({2 * C}, torch::kDouble);
      double* s = t.data_ptr<double>();
      for (int64_t c = 0; c < C; ++c) s[c] = sg[c], s[C + c] = sgx[c];
      (*sync)(t);
      s = t.data_ptr<double>();
      for (int64_t c = 0; c < C; ++c) gsg[c] = s[c], gsgx[c] = s[C + c];
    }
    const double n = ctx->saved_data["count"].toDouble();
    for (int64_t c = 0; c < C; ++c) {
      const double inv = is[c];
      // dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * invstd
      k1[c] = wp[c] * inv;
      k2[c] = -wp[c] * inv * inv * inv * gsgx[c] / n;
      k3[c] = -k1[c] * gsg[c] / n;
    }
    auto k1f = F32(k1), k2f = F32(k2), k3f = F32(k3);
    auto dx = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    torch::Tensor ds;
    if (has_res) ds = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    T* dxp = dx.data_ptr<T>();
    T* dsp = ds.defined() ? ds.data_ptr<T>() : nullptr;
    const Chan kk{k1f.data_ptr<float>(), k2f.data_ptr<float>(), k3f.data_ptr<float>()};
    ForBlocks(R, [&](int64_t, int64_t r0, int64_t rows) {
      GradIn(xp + r0 * C, dp + r0 * C, op ? op + r0 * C : nullptr, dxp + r0 * C, dsp ? dsp + r0 * C : nullptr, rows, C,
             ch, kk);
    });
    return {dx, F32(dw).to(w.dtype()), F32(sg).to(w.dtype()), ds};
  }
};

struct BnReluFunction : torch::autograd::Function<BnReluFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor weight, torch::Tensor bias,
                               torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps,
                               int64_t sync) {
    return BnRelu::Forward(ctx, x, weight, bias, torch::Tensor(), running_mean, running_var, momentum, eps, sync);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = BnRelu::Backward(ctx, grads);
    return {g[0], g[1], g[2], torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct BnAddReluFunction : torch::autograd::Function<BnAddReluFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor weight, torch::Tensor bias,
                               torch::Tensor residual, torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, int64_t sync) {
    return BnRelu::Forward(ctx, x, weight, bias, residual, running_mean, running_var, momentum, eps, sync);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = BnRelu::Backward(ctx, grads);
    return {g[0],           g[1], g[2], g[3], torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

const char* FusedKernelThreading() {
#ifdef _OPENMP
  return "openmp";
#else
  return "single-thread";
#endif
}

bool FusedBnApplies(const torch::Tensor& x, const torch::nn::BatchNorm2d& bn) {
  const auto& o = bn->options;
#ifndef _OPENMP
  // Built without OpenMP (no libgomp beside libtorch) the kernels run on one thread: only worth it with one.
  if (at::get_num_threads() > 1) return false;
#endif
  return bn->is_training() && o.affine() && o.track_running_stats() && x.defined() && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16) && x.dim() == 4 &&
         x.size(1) == o.num_features() && x.size(1) > 0 && x.numel() / x.size(1) > 1 &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast) && bn->weight.scalar_type() == torch::kFloat &&
         bn->bias.scalar_type() == torch::kFloat;
}

torch::Tensor FusedBnRelu(const torch::Tensor& x, torch::nn::BatchNorm2d& bn, const torch::Tensor& residual,
                          const AllReduceSum* sync) {
  const auto sync_id = reinterpret_cast<int64_t>(sync);
  // As BatchNormImplBase::forward: count the batch, and use momentum, or a cumulative average when it is unset.
  double factor = 0.0;
  {
    torch::NoGradGuard no_grad;
    bn->num_batches_tracked += 1;
    factor =
        bn->options.momentum().has_value() ? *bn->options.momentum() : 1.0 / bn->num_batches_tracked.item<double>();
  }
  if (!residual.defined()) {
    return BnReluFunction::apply(x, bn->weight, bn->bias, bn->running_mean, bn->running_var, factor, bn->options.eps(),
                                 sync_id);
  }
  // The residual in the activations' type (autocast keeps both in bfloat16; a cast is differentiated as usual).
  return BnAddReluFunction::apply(x, bn->weight, bn->bias,
                                  residual.to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast),
                                  bn->running_mean, bn->running_var, factor, bn->options.eps(), sync_id);
}

}  // namespace resnet_cifar
