// The vector kernels of fused_bn.cc, included by it alone, inside its anonymous namespace and after its
// #pragma GCC optimize (contraction into FMA off): not a header for any other file. kRows, RC_CLONES and RC_INLINE
// come from fused_bn.cc.
#pragma once

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
typedef uint32_t U16x32 __attribute__((vector_size(64)));  // 16 x uint32
typedef int32_t I16x32 __attribute__((vector_size(64)));   // 16 x int32 (comparison masks)
typedef uint16_t H16 __attribute__((vector_size(32)));     // 16 x uint16 (bfloat16 bits)
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
RC_INLINE void GradSumS(const T* __restrict x, const T* __restrict dy, const T* __restrict out, int64_t rows, int64_t C,
                        Chan ch, float* o1, float* o2) {
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
#define RC_KERNELS(T)                                                                                          \
  RC_CLONES void Stats(const T* x, int64_t rows, int64_t C, float* o1, float* o2) {                            \
    switch (C) {                                                                                               \
      case 16: return StatsV<1>(x, rows, o1, o2);                                                              \
      case 32: return StatsV<2>(x, rows, o1, o2);                                                              \
      case 64: return StatsV<4>(x, rows, o1, o2);                                                              \
      default: return StatsS(x, rows, C, o1, o2);                                                              \
    }                                                                                                          \
  }                                                                                                            \
  RC_CLONES void Norm(const T* x, const T* res, T* out, int64_t rows, int64_t C, Chan ch) {                    \
    switch (C) {                                                                                               \
      case 16: return NormV<1>(x, res, out, rows, ch);                                                         \
      case 32: return NormV<2>(x, res, out, rows, ch);                                                         \
      case 64: return NormV<4>(x, res, out, rows, ch);                                                         \
      default: return NormS(x, res, out, rows, C, ch);                                                         \
    }                                                                                                          \
  }                                                                                                            \
  RC_CLONES void GradSum(const T* x, const T* dy, const T* out, int64_t rows, int64_t C, Chan ch, float* o1,   \
                         float* o2) {                                                                          \
    switch (C) {                                                                                               \
      case 16: return GradSumV<1>(x, dy, out, rows, ch, o1, o2);                                               \
      case 32: return GradSumV<2>(x, dy, out, rows, ch, o1, o2);                                               \
      case 64: return GradSumV<4>(x, dy, out, rows, ch, o1, o2);                                               \
      default: return GradSumS(x, dy, out, rows, C, ch, o1, o2);                                               \
    }                                                                                                          \
  }                                                                                                            \
  RC_CLONES void GradIn(const T* x, const T* dy, const T* out, T* dx, T* ds, int64_t rows, int64_t C, Chan ch, \
                        Chan k) {                                                                              \
    switch (C) {                                                                                               \
      case 16: return GradInV<1>(x, dy, out, dx, ds, rows, ch, k);                                             \
      case 32: return GradInV<2>(x, dy, out, dx, ds, rows, ch, k);                                             \
      case 64: return GradInV<4>(x, dy, out, dx, ds, rows, ch, k);                                             \
      default: return GradInS(x, dy, out, dx, ds, rows, C, ch, k);                                             \
    }                                                                                                          \
  }

RC_KERNELS(float)
RC_KERNELS(BF16)
#undef RC_KERNELS
