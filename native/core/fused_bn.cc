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

// Per-channel constants a pass needs, as float arrays of C.
struct Chan {
  const float* a;
  const float* b;
  const float* c;
};

// 16 floats. The kernels below keep one row of C = 16, 32 or 64 channels in C/16 of these (registers), so a row
// is a few vector instructions on any instruction set the functions are cloned for; other C take scalar loops.
typedef float V16 __attribute__((vector_size(64)));
typedef float V16u __attribute__((vector_size(64), aligned(4)));
typedef uint32_t U16x32 __attribute__((vector_size(64)));             // 16 x uint32
typedef int32_t I16x32 __attribute__((vector_size(64)));              // 16 x int32 (comparison masks)
typedef uint16_t H16 __attribute__((vector_size(32)));                // 16 x uint16 (bfloat16 bits)
typedef uint16_t H16u __attribute__((vector_size(32), aligned(2)));
using BF16 = c10::BFloat16;

RC_INLINE V16 Ld(const float* p) { return *reinterpret_cast<const V16u*>(p); }
RC_INLINE void St(float* p, const V16& v) { *reinterpret_cast<V16u*>(p) = v; }
// bfloat16 is the upper half of a float: widening is a shift; narrowing rounds to nearest even, NaN stays NaN.
RC_INLINE V16 Ld(const BF16* p) {
  const H16 h = *reinterpret_cast<const H16u*>(p);
  return reinterpret_cast<V16>(__builtin_convertvector(h, U16x32) << 16);
}
RC_INLINE void St(BF16* p, const V16& v) {
  const U16x32 u = reinterpret_cast<U16x32>(v);
  U16x32 r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const I16x32 nan = v != v;
  r = nan ? U16x32{} + 0x7FC0u : r;
  *reinterpret_cast<H16u*>(p) = __builtin_convertvector(r, H16);
}
RC_INLINE float Ld1(float v) { return v; }
RC_INLINE float Ld1(BF16 v) { return static_cast<float>(v); }
RC_INLINE void St1(float* p, float v) { *p = v; }
RC_INLINE void St1(BF16* p, float v) { *p = BF16(v); }
RC_INLINE V16 Relu(const V16& y) {  // max(y, 0) keeping NaN, as torch.relu
  const V16 zero = {};
  return y < zero ? zero : y;
}
RC_INLINE V16 Pass(const V16& gate, const V16& dy) {  // dy where gate > 0, else 0
  const V16 zero = {};
  return gate > zero ? dy : zero;
}

// ---- statistics of one block (kept in cache between its two passes): o1 = block mean, o2 = sum of squared
// deviations from it (M2). Blocks are combined in double with Chan et al.'s formula: no cancellation when
// |mean| >> std, unlike a one-pass sum of squares. T: float or bfloat16 activations; sums in float.
template <int64_t kV, class T>
RC_INLINE void StatsV(const T* __restrict x, int64_t rows, float* o1, float* o2) {
  constexpr int64_t C = kV * 16;
  V16 s[kV] = {}, m2[kV] = {}, e[kV] = {};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kV; ++j) s[j] += Ld(x + r * C + 16 * j);
  }
  const float inv = 1.f / static_cast<float>(rows);
  for (int64_t j = 0; j < kV; ++j) s[j] *= inv;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kV; ++j) {
      const V16 d = Ld(x + r * C + 16 * j) - s[j];
      m2[j] += d * d;
      e[j] += d;
    }
  }
  for (int64_t j = 0; j < kV; ++j) St(o1 + 16 * j, s[j]), St(o2 + 16 * j, m2[j] - e[j] * e[j] * inv);
}

template <class T>
RC_INLINE void StatsS(const T* __restrict x, int64_t rows, int64_t C, float* o1, float* o2) {
  for (int64_t c = 0; c < C; ++c) {
    float s = 0.f, m2 = 0.f, e = 0.f;
    for (int64_t r = 0; r < rows; ++r) s += Ld1(x[r * C + c]);
    s /= static_cast<float>(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float d = Ld1(x[r * C + c]) - s;
      m2 += d * d;
      e += d;
    }
    o1[c] = s;
    o2[c] = m2 - e * e / static_cast<float>(rows);
  }
}

// ---- forward output: out = relu((x - mean) * scale + bias [+ res]), scale = w * invstd; x - mean first, so the
// result keeps its precision when |mean| >> std. ch: a = scale, b = bias, c = mean.
template <int64_t kV, class T>
RC_INLINE void NormV(const T* __restrict x, const T* __restrict res, T* __restrict out, int64_t rows, Chan ch) {
  constexpr int64_t C = kV * 16;
  V16 sc[kV], sh[kV], mu[kV];
  for (int64_t j = 0; j < kV; ++j) sc[j] = Ld(ch.a + 16 * j), sh[j] = Ld(ch.b + 16 * j), mu[j] = Ld(ch.c + 16 * j);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kV; ++j) {
      const int64_t i = r * C + 16 * j;
      V16 y = (Ld(x + i) - mu[j]) * sc[j] + sh[j];
      if (res) y = y + Ld(res + i);
      St(out + i, Relu(y));
    }
  }
}

template <class T>
RC_INLINE void NormS(const T* __restrict x, const T* __restrict res, T* __restrict out, int64_t rows, int64_t C,
                     Chan ch) {
  for (int64_t i = 0; i < rows * C; ++i) {
    const int64_t c = i % C;
    float y = (Ld1(x[i]) - ch.c[c]) * ch.a[c] + ch.b[c];
    if (res) y = y + Ld1(res[i]);
    St1(out + i, y < 0.f ? 0.f : y);
  }
}

// ---- backward reductions: g = dy where the ReLU passed (out > 0 when out is given, else recomputed from x with
// the forward's expression), sg = sum(g), sgx = sum(g * (x - mean)). ch: a = scale, b = bias, c = mean.
template <int64_t kV, class T>
RC_INLINE void GradSumV(const T* __restrict x, const T* __restrict dy, const T* __restrict out, int64_t rows, Chan ch,
                        float* o1, float* o2) {
  constexpr int64_t C = kV * 16;
  V16 sc[kV], sh[kV], mu[kV], a1[kV] = {}, a2[kV] = {};
  for (int64_t j = 0; j < kV; ++j) sc[j] = Ld(ch.a + 16 * j), sh[j] = Ld(ch.b + 16 * j), mu[j] = Ld(ch.c + 16 * j);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kV; ++j) {
      const int64_t i = r * C + 16 * j;
      const V16 xv = Ld(x + i);
      const V16 g = Pass(out ? Ld(out + i) : (xv - mu[j]) * sc[j] + sh[j], Ld(dy + i));
      a1[j] += g;
      a2[j] += g * (xv - mu[j]);
    }
  }
  for (int64_t j = 0; j < kV; ++j) St(o1 + 16 * j, a1[j]), St(o2 + 16 * j, a2[j]);
}

// Scalar form of Pass for element i of channel c, also giving x[i] as float.
template <class T>
RC_INLINE float PassS(const T* x, const T* dy, const T* out, int64_t i, int64_t c, Chan ch, float* xv) {
  *xv = Ld1(x[i]);
  const float gate = out ? Ld1(out[i]) : (*xv - ch.c[c]) * ch.a[c] + ch.b[c];
  return gate > 0.f ? Ld1(dy[i]) : 0.f;
}

template <class T>
RC_INLINE void GradSumS(const T* __restrict x, const T* __restrict dy, const T* __restrict out, int64_t rows,
                        int64_t C, Chan ch, float* o1, float* o2) {
  for (int64_t c = 0; c < C; ++c) o1[c] = o2[c] = 0.f;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      float xv;
      const float g = PassS(x, dy, out, r * C + c, c, ch, &xv);
      o1[c] += g;
      o2[c] += g * (xv - ch.c[c]);
    }
  }
}

// ---- input gradient: dx = g * k1 + (x - mean) * k2 + k3, and ds = g (the residual's gradient) when asked.
// ch: a = scale, b = bias, c = mean; k: a = k1, b = k2, c = k3.
template <int64_t kV, class T>
RC_INLINE void GradInV(const T* __restrict x, const T* __restrict dy, const T* __restrict out, T* __restrict dx,
                       T* __restrict ds, int64_t rows, Chan ch, Chan k) {
  constexpr int64_t C = kV * 16;
  V16 sc[kV], sh[kV], mu[kV], k1[kV], k2[kV], k3[kV];
  for (int64_t j = 0; j < kV; ++j) {
    sc[j] = Ld(ch.a + 16 * j), sh[j] = Ld(ch.b + 16 * j), mu[j] = Ld(ch.c + 16 * j);
    k1[j] = Ld(k.a + 16 * j), k2[j] = Ld(k.b + 16 * j), k3[j] = Ld(k.c + 16 * j);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kV; ++j) {
      const int64_t i = r * C + 16 * j;
      const V16 xv = Ld(x + i);
      const V16 g = Pass(out ? Ld(out + i) : (xv - mu[j]) * sc[j] + sh[j], Ld(dy + i));
      St(dx + i, g * k1[j] + (xv - mu[j]) * k2[j] + k3[j]);
      if (ds) St(ds + i, g);
    }
  }
}

template <class T>
RC_INLINE void GradInS(const T* __restrict x, const T* __restrict dy, const T* __restrict out, T* __restrict dx,
                       T* __restrict ds, int64_t rows, int64_t C, Chan ch, Chan k) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      const int64_t i = r * C + c;
      float xv;
      const float g = PassS(x, dy, out, i, c, ch, &xv);
      St1(dx + i, g * k.a[c] + (xv - ch.c[c]) * k.b[c] + k.c[c]);
      if (ds) St1(ds + i, g);
    }
  }
}

// The entry points, one set per activation type, each cloned for AVX-512, AVX2 and the baseline (target_clones
// cannot clone templates, hence the macro). C = 16, 32 or 64 keeps a row in registers; other C loop in scalars.
#define RC_KERNELS(T)                                                                                              \
  RC_CLONES void Stats(const T* x, int64_t rows, int64_t C, float* o1, float* o2) {                                \
    switch (C) {                                                                                                   \
      case 16: return StatsV<1>(x, rows, o1, o2);                                                                  \
      case 32: return StatsV<2>(x, rows, o1, o2);                                                                  \
      case 64: return StatsV<4>(x, rows, o1, o2);                                                                  \
      default: return StatsS(x, rows, C, o1, o2);                                                                  \
    }                                                                                                              \
  }                                                                                                                \
  RC_CLONES void Norm(const T* x, const T* res, T* out, int64_t rows, int64_t C, Chan ch) {                        \
    switch (C) {                                                                                                   \
      case 16: return NormV<1>(x, res, out, rows, ch);                                                             \
      case 32: return NormV<2>(x, res, out, rows, ch);                                                             \
      case 64: return NormV<4>(x, res, out, rows, ch);                                                             \
      default: return NormS(x, res, out, rows, C, ch);                                                             \
    }                                                                                                              \
  }                                                                                                                \
  RC_CLONES void GradSum(const T* x, const T* dy, const T* out, int64_t rows, int64_t C, Chan ch, float* o1,       \
                         float* o2) {                                                                              \
    switch (C) {                                                                                                   \
      case 16: return GradSumV<1>(x, dy, out, rows, ch, o1, o2);                                                   \
      case 32: return GradSumV<2>(x, dy, out, rows, ch, o1, o2);                                                   \
      case 64: return GradSumV<4>(x, dy, out, rows, ch, o1, o2);                                                   \
      default: return GradSumS(x, dy, out, rows, C, ch, o1, o2);                                                   \
    }                                                                                                              \
  }                                                                                                                \
  RC_CLONES void GradIn(const T* x, const T* dy, const T* out, T* dx, T* ds, int64_t rows, int64_t C, Chan ch,     \
                        Chan k) {                                                                                  \
    switch (C) {                                                                                                   \
      case 16: return GradInV<1>(x, dy, out, dx, ds, rows, ch, k);                                                 \
      case 32: return GradInV<2>(x, dy, out, dx, ds, rows, ch, k);                                                 \
      case 64: return GradInV<4>(x, dy, out, dx, ds, rows, ch, k);                                                 \
      default: return GradInS(x, dy, out, dx, ds, rows, C, ch, k);                                                 \
    }                                                                                                              \
  }

RC_KERNELS(float)
RC_KERNELS(BF16)
#undef RC_KERNELS

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
      GradIn(xp + r0 * C, dp + r0 * C, op ? op + r0 * C : nullptr, dxp + r0 * C, dsp ? dsp + r0 * C : nullptr,
             rows, C, ch, kk);
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
    return {g[0], g[1], g[2], g[3], torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
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
  return bn->is_training() && o.affine() && o.track_running_stats() && x.defined() &&
         x.device().is_cpu() && (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16) &&
         x.dim() == 4 && x.size(1) == o.num_features() &&
         x.size(1) > 0 && x.numel() / x.size(1) > 1 && x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
         bn->weight.scalar_type() == torch::kFloat && bn->bias.scalar_type() == torch::kFloat;
}

torch::Tensor FusedBnRelu(const torch::Tensor& x, torch::nn::BatchNorm2d& bn, const torch::Tensor& residual,
                          const AllReduceSum* sync) {
  const auto sync_id = reinterpret_cast<int64_t>(sync);
  // As BatchNormImplBase::forward: count the batch, and use momentum, or a cumulative average when it is unset.
  double factor = 0.0;
  {
    torch::NoGradGuard no_grad;
    bn->num_batches_tracked += 1;
    factor = bn->options.momentum().has_value() ? *bn->options.momentum()
                                                : 1.0 / bn->num_batches_tracked.item<double>();
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
