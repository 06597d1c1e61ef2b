// The fused train-mode BatchNorm + ReLU (+ residual) CPU kernels (native/core/nn/fused_bn.cc) against a float64
// computation of the same layer, beside libtorch's own BatchNorm2d + relu on the same arrays.
import { info, setNumThreads } from '../lib/index';
import { native } from '../lib/base/native';
import { requires } from './helpers';

// The addon's test hooks exist only in a build made in a checkout with its tests (never in an installed package's).
const withHooks = requires(native().batchNormRelu !== undefined, "the addon's test hooks (batchNormRelu)",
  'build the addon in a checkout that has test/native: npm run build:native');
const batchNormRelu: NonNullable<ReturnType<typeof native>['batchNormRelu']> = (a, fused) => native().batchNormRelu!(a, fused);

type Shape = [number, number, number, number];

function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (((z ^ (z >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

interface Case {
  shape: Shape;
  x: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  grad: Float32Array;
  residual?: Float32Array;
}

function makeCase(shape: Shape, residual: boolean, mean: number, seed: number): Case {
  const rnd = gaussian(seed);
  const [n, c, h, w] = shape;
  const numel = n * c * h * w;
  const f = (k: number, g: () => number) => Float32Array.from({ length: k }, g);
  return {
    shape,
    x: f(numel, () => mean + 3 * rnd()),
    weight: f(c, () => 1 + 0.5 * rnd()),
    bias: f(c, () => 0.5 * rnd()),
    grad: f(numel, rnd),
    residual: residual ? f(numel, rnd) : undefined,
  };
}

interface Result {
  preRelu: Float64Array;
  out: Float64Array; gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array;
  gradResidual?: Float64Array; runningMean: Float64Array; runningVar: Float64Array;
}

// The layer in float64: batch statistics, normalize, add, ReLU; then the BatchNorm backward through the ReLU mask.
function reference(k: Case): Result {
  const [n, c, h, w] = k.shape;
  const hw = h * w;
  const rows = n * hw;
  const at = (i: number, ch: number, p: number) => (i * c + ch) * hw + p;
  const numel = rows * c;
  const pre = new Float64Array(numel), out = new Float64Array(numel), gx = new Float64Array(numel), gr = new Float64Array(numel);
  const gw = new Float64Array(c), gb = new Float64Array(c), rm = new Float64Array(c), rv = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) s += k.x[at(i, ch, p)];
    const mean = s / rows;
    let v = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) v += (k.x[at(i, ch, p)] - mean) ** 2;
    const variance = v / rows;
    const invstd = 1 / Math.sqrt(variance + 1e-5);
    let sg = 0, sgx = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const j = at(i, ch, p);
        const y = (k.x[j] - mean) * invstd * k.weight[ch] + k.bias[ch] + (k.residual ? k.residual[j] : 0);
        pre[j] = y;
        out[j] = Math.max(y, 0);
        const g = y > 0 ? k.grad[j] : 0;
        gr[j] = g;
        sg += g;
        sgx += g * (k.x[j] - mean);
      }
    }
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const j = at(i, ch, p);
        gx[j] = k.weight[ch] * invstd * (gr[j] - sg / rows - (k.x[j] - mean) * invstd * invstd * sgx / rows);
      }
    }
    gw[ch] = sgx * invstd;
    gb[ch] = sg;
    rm[ch] = 0.1 * mean;
    rv[ch] = 0.9 + 0.1 * variance * rows / (rows - 1);
  }
  return { preRelu: pre, out, gradInput: gx, gradWeight: gw, gradBias: gb, gradResidual: k.residual ? gr : undefined, runningMean: rm, runningVar: rv };
}

// Where the pre-ReLU value is within 1e-3 of zero, float32 rounding may put it on either side: give those elements
// a zero gradient so every implementation agrees on the mask whatever its rounding.
function dropNearZero(k: Case): Case {
  const r = reference(k);
  return { ...k, grad: k.grad.map((g, j) => (Math.abs(r.preRelu[j]) < 1e-3 ? 0 : g)) };
}

// Relative L2 error, with a floor of 1e-3 per element under the norm (a batch mean near 0 has no relative scale).
function relErr(a: Float32Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / (Math.sqrt(den) + 1e-3 * Math.sqrt(b.length));
}

const KEYS = ['out', 'gradInput', 'gradWeight', 'gradBias', 'gradResidual', 'runningMean', 'runningVar'] as const;

const CASES: { shape: Shape; residual: boolean; mean: number }[] = [
  { shape: [16, 16, 8, 8], residual: false, mean: 2 },
  { shape: [16, 16, 8, 8], residual: true, mean: 2 },
  { shape: [8, 32, 8, 8], residual: false, mean: -1 },
  { shape: [8, 32, 8, 8], residual: true, mean: 0 },
  { shape: [4, 64, 8, 8], residual: false, mean: 0 },
  { shape: [4, 64, 8, 8], residual: true, mean: 1 },
  { shape: [8, 24, 5, 7], residual: true, mean: 0 }, // a channel count without a vector kernel: the scalar path
  { shape: [8, 16, 8, 8], residual: false, mean: 1000 }, // |mean| >> std: the shifted one-pass variance
];

withHooks('fused BatchNorm + ReLU kernels match a float64 computation of the layer (forward, backward, running stats)', (t) => {
  t.is(info().fusedKernels, 'openmp', 'built with libtorch\'s OpenMP runtime');
  for (const [i, c] of CASES.entries()) {
    const k = dropNearZero(makeCase(c.shape, c.residual, c.mean, 100 + i));
    const ref = reference(k);
    const fused = batchNormRelu(k, true);
    const torch = batchNormRelu(k, false);
    const worst = { fused: 0, torch: 0 };
    for (const key of KEYS) {
      const r = ref[key];
      if (r === undefined) {
        t.is(fused[key], undefined, key);
        continue;
      }
      const ef = relErr(fused[key]!, r);
      const et = relErr(torch[key]!, r);
      worst.fused = Math.max(worst.fused, ef);
      worst.torch = Math.max(worst.torch, et);
      // 1e-5, or no worse than libtorch where float32 itself limits (|mean| >> std: x - mean loses digits)
      t.true(ef < 1e-5 || ef < 2 * et, `${JSON.stringify(c)} ${key}: fused relative error ${ef} (libtorch ${et})`);
      t.true(et < 1e-4, `${JSON.stringify(c)} ${key}: libtorch relative error ${et}`);
    }
    t.log(`${c.shape.join('x')}${c.residual ? ' +residual' : ''} mean ${c.mean}: worst relative error vs float64: fused ${worst.fused.toExponential(1)}, libtorch ${worst.torch.toExponential(1)}`);
  }
});

/** x rounded to the nearest bfloat16 (ties to even), as c10::BFloat16 does. */
function toBf16(a: Float32Array): Float32Array {
  const out = Float32Array.from(a);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16) << 16;
  return out;
}

// bf16 activations (precision 'bf16'): the same layer on bfloat16 inputs, against float64 on those same inputs.
// Outputs and input gradients are rounded to bfloat16 once (relative error within 2^-8); the weight gradients and
// running statistics accumulate in float/double and stay float32-accurate.
withHooks('fused kernels on bfloat16 activations match float64 within bfloat16 rounding', (t) => {
  const BF16_KEYS = new Set(['out', 'gradInput', 'gradResidual']);
  for (const [i, c] of CASES.entries()) {
    const raw = makeCase(c.shape, c.residual, c.mean, 300 + i);
    const rounded: Case = { ...raw, x: toBf16(raw.x), grad: toBf16(raw.grad), residual: raw.residual && toBf16(raw.residual) };
    const k = dropNearZero(rounded);
    const ref = reference(k);
    const fused = batchNormRelu({ ...k, bf16: true }, true);
    const torch = batchNormRelu({ ...k, bf16: true }, false);
    t.is(fused.dtype, 'bf16');
    const worst = { rounded: 0, accumulated: 0, torch: 0 };
    for (const key of KEYS) {
      const r = ref[key];
      if (r === undefined) continue;
      const ef = relErr(fused[key]!, r);
      const et = relErr(torch[key]!, r);
      worst.torch = Math.max(worst.torch, et);
      if (BF16_KEYS.has(key)) {
        worst.rounded = Math.max(worst.rounded, ef);
        t.true(ef < 2 ** -8, `${JSON.stringify(c)} ${key}: relative error ${ef} (libtorch bf16 ${et})`);
      } else {
        worst.accumulated = Math.max(worst.accumulated, ef);
        t.true(ef < 1e-4 || ef < 2 * et, `${JSON.stringify(c)} ${key}: relative error ${ef} (libtorch bf16 ${et})`);
      }
    }
    t.log(`${c.shape.join('x')}${c.residual ? ' +residual' : ''} mean ${c.mean}: bf16 outputs ${worst.rounded.toExponential(1)}, float accumulations ${worst.accumulated.toExponential(1)} (libtorch bf16 worst ${worst.torch.toExponential(1)})`);
  }
});

withHooks('fused kernels give the same bits on 1 and 2 threads (fixed blocks, reduced in order)', (t) => {
  const k = makeCase([32, 16, 16, 16], true, 0.5, 7);
  const before = info().threads;
  try {
    setNumThreads(1);
    const one = batchNormRelu(k, true);
    setNumThreads(2);
    const two = batchNormRelu(k, true);
    for (const key of KEYS) t.deepEqual(Buffer.from(one[key]!.buffer), Buffer.from(two[key]!.buffer), key);
  } finally {
    setNumThreads(before);
  }
});

withHooks('batchNormRelu names bad arguments', (t) => {
  const k = makeCase([2, 16, 4, 4], false, 0, 1);
  t.throws(() => batchNormRelu({ ...k, x: new Float32Array(3) }, true), { message: /x must hold 512 values but holds 3/ });
  t.throws(() => batchNormRelu({ ...k, shape: [2, 16, 4] as never }, true), { message: /shape must be \[N, C, H, W\]/ });
  t.throws(() => batchNormRelu({ ...k, weight: [1] as never }, true), { message: /weight must be a Float32Array/ });
  t.throws(() => batchNormRelu(k, 'yes' as never), { message: /fused must be a boolean/ });
});
