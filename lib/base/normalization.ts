// Input normalization as one value, its kind and its statistics (of pixels / 255), from the trainer through
// checkpoints to evaluate: (x / 255 - mean) / std. Native code computes, stores and applies it; here it is checked
// and shown to users.
import { native, type NativeNormalization } from './native';
import * as v from './validate';

/** Pixels of one 3×32×32 (CIFAR) image. */
export const IMAGE_SIZE = 3 * 32 * 32;

/**
 * How images (pixels / 255) are normalized before the network: the paper's per-pixel mean ('pixel', std 1), or a
 * per-channel mean and std ('channel'). Three values per channel for colour images, one for grey ones; a per-pixel
 * mean holds C×H×W values (3,072 for CIFAR) and fits only images of that size (`shape` says which when the images
 * are not square).
 */
export type Normalization =
  | { kind: 'channel'; mean: number[]; std: number[] }
  | { kind: 'pixel'; mean: Float32Array | number[]; shape?: [number, number, number] };

/** The usual CIFAR-10 training-set per-channel statistics. */
export const CIFAR10_CHANNEL_NORMALIZATION: Normalization = {
  kind: 'channel', mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616],
};

/**
 * The [C, H, W] of a per-pixel mean of `length` values: `shape` when given, else the square colour or grey images
 * it fits (3×s×s and 1×t×t never have the same count). Undefined when none fits.
 */
function pixelShape(length: number, shape: unknown): [number, number, number] | undefined {
  if (shape !== undefined) {
    const ok = Array.isArray(shape) && shape.length === 3 && shape.every((e) => Number.isInteger(e)) &&
      (shape[0] === 1 || shape[0] === 3) && shape[0] * shape[1] * shape[2] === length;
    return ok ? shape as [number, number, number] : undefined;
  }
  for (const c of [3, 1]) {
    const side = Math.round(Math.sqrt(length / c));
    if (side * side * c === length) return [c, side, side];
  }
  return undefined;
}

/** A checked normalization in its native form; errors name `name` and what was received. */
export function toNative(n: unknown, name = 'normalization'): NativeNormalization {
  const what = "{ kind: 'channel', mean: [C], std: [C] } or { kind: 'pixel', mean: C×H×W values } (C = 3 or 1)";
  if (n === null || typeof n !== 'object') throw v.invalid(name, what, n);
  const o = n as Record<string, unknown>;
  const nums = (x: unknown, len: (l: number) => boolean, field: string, requirement: string) => {
    const ok = (Array.isArray(x) || x instanceof Float32Array) && len(x.length) &&
      Array.from(x as ArrayLike<number>).every((e) => typeof e === 'number' && Number.isFinite(e));
    if (!ok) throw v.invalid(`${name}.${field}`, `to be ${requirement} finite numbers`, x, RangeError);
    return Float32Array.from(x as ArrayLike<number>);
  };
  if (o.kind === 'channel') {
    const std = nums(o.std, (l) => l === 1 || l === 3, 'std', '3 (colour) or 1 (grey)');
    if (std.some((e) => e <= 0)) throw v.invalid(`${name}.std`, 'to be positive', Array.from(std), RangeError);
    return { kind: 'channel', mean: nums(o.mean, (l) => l === std.length, 'mean', String(std.length)), std };
  }
  if (o.kind === 'pixel') {
    const { minImageSide, maxImageSide } = native().constants;
    const fits = (l: number) => {
      const s = pixelShape(l, o.shape);
      return s !== undefined && [s[1], s[2]].every((d) => d >= minImageSide && d <= maxImageSide);
    };
    const requirement = o.shape === undefined
      ? `C×H×W (3×32×32 = 3072 for CIFAR; sides ${minImageSide}–${maxImageSide})`
      : 'as many as its shape [C, H, W] says';
    const mean = nums(o.mean, fits, 'mean', requirement);
    const shape = pixelShape(mean.length, o.shape)!;
    return { kind: 'pixel', mean, std: new Float32Array(shape[0]).fill(1), shape };
  }
  throw v.invalid(name, what, n);
}

/** The public form of a native normalization (a per-pixel mean's shape only where it is not square). */
export function fromNative(n: NativeNormalization): Normalization {
  if (n.kind === 'channel') return { kind: 'channel', mean: Array.from(n.mean), std: Array.from(n.std) };
  const s = n.shape;
  return s && s[1] !== s[2] ? { kind: 'pixel', mean: n.mean, shape: [s[0], s[1], s[2]] } : { kind: 'pixel', mean: n.mean };
}

/** A per-pixel mean's [C, H, W]: its own shape, else the square images its values fit; undefined for channel statistics. */
export function pixelShapeOf(n: NativeNormalization): number[] | undefined {
  return n.kind === 'pixel' ? n.shape ?? pixelShape(n.mean.length, undefined) : undefined;
}

/**
 * Whether `n` applies to a network input of `shape` ([C, H, W]: the network's channels, the images' size); a
 * message saying why not otherwise.
 */
export function normalizationMismatch(n: NativeNormalization, shape: readonly number[]): string | undefined {
  if (n.std.length !== shape[0]) return `the normalization has ${n.std.length} channel(s) but the network takes ${shape[0]}`;
  const s = pixelShapeOf(n);
  if (s && (s[1] !== shape[1] || s[2] !== shape[2])) {
    return `the per-pixel mean is of ${s.join('×')} images but these are ${shape.join('×')}`;
  }
  return undefined;
}
