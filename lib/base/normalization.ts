// Input normalization as one value, its kind and its statistics (of pixels / 255), from the trainer through
// checkpoints to evaluate: (x / 255 - mean) / std. Native code computes, stores and applies it; here it is checked
// and shown to users.
import type { NativeNormalization } from './native';
import * as v from './validate';

/** Pixels of one 3x32x32 image. */
export const IMAGE_SIZE = 3 * 32 * 32;

/**
 * How images (pixels / 255) are normalized before the network: the paper's per-pixel mean ('pixel', std 1), or a
 * per-channel mean and std ('channel').
 */
export type Normalization =
  | { kind: 'channel'; mean: number[]; std: number[] }
  | { kind: 'pixel'; mean: Float32Array | number[] };

/** The usual CIFAR-10 training-set per-channel statistics. */
export const CIFAR10_CHANNEL_NORMALIZATION: Normalization = {
  kind: 'channel', mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616],
};

/** A checked normalization in its native form; errors name `name` and what was received. */
export function toNative(n: unknown, name = 'normalization'): NativeNormalization {
  const what = "{ kind: 'channel', mean: [3], std: [3] } or { kind: 'pixel', mean: 3072 values }";
  if (n === null || typeof n !== 'object') throw v.invalid(name, what, n);
  const o = n as Record<string, unknown>;
  const nums = (x: unknown, len: number, field: string) => {
    const ok = (Array.isArray(x) || x instanceof Float32Array) && x.length === len &&
      Array.from(x as ArrayLike<number>).every((e) => typeof e === 'number' && Number.isFinite(e));
    if (!ok) throw v.invalid(`${name}.${field}`, `to be ${len} finite numbers`, x, RangeError);
    return Float32Array.from(x as ArrayLike<number>);
  };
  if (o.kind === 'channel') {
    const std = nums(o.std, 3, 'std');
    if (std.some((e) => e <= 0)) throw v.invalid(`${name}.std`, 'to be positive', Array.from(std), RangeError);
    return { kind: 'channel', mean: nums(o.mean, 3, 'mean'), std };
  }
  if (o.kind === 'pixel') return { kind: 'pixel', mean: nums(o.mean, IMAGE_SIZE, 'mean'), std: Float32Array.of(1, 1, 1) };
  throw v.invalid(name, what, n);
}

/** The public form of a native normalization. */
export function fromNative(n: NativeNormalization): Normalization {
  return n.kind === 'pixel'
    ? { kind: 'pixel', mean: n.mean }
    : { kind: 'channel', mean: Array.from(n.mean), std: Array.from(n.std) };
}
