// Checks of a network's shape and of image batches, shared by ResNet and the foreign models.
import { native, type NativeShortcut } from '../base/native';
import type { ImageShape } from '../base/types';
import * as v from '../base/validate';

/**
 * The image count of an NCHW float32 batch given to predict, checked: `n` square images of `channels` channels
 * (1 or 3; 'any': either) of any side the addon takes, or, without `n`, CIFAR-sized ones (C×32×32).
 */
export function checkImages(input: unknown, n: number | undefined, channels: number | 'any'): number {
  if (!(input instanceof Float32Array)) throw v.invalid('input', 'to be a Float32Array (NCHW, n×C×H×W)', input);
  const cs = channels === 'any' ? [3, 1] : [channels];
  const c = cs.map(String).join(' or ');
  if (n === undefined) {
    const k = cs.find((ch) => input.length > 0 && input.length % (ch * 1024) === 0);
    if (k === undefined) {
      throw new RangeError(`Expected input length to be a positive multiple of ${c}×32×32 but received ${input.length} ` +
        '(pass n for images of another size)');
    }
    return input.length / (k * 1024);
  }
  v.integer('n', n, 1);
  const { minImageSide, maxImageSide } = native().constants;
  const fits = cs.some((ch) => {
    const side = Math.round(Math.sqrt(input.length / n / ch));
    return side * side * ch * n === input.length && side >= minImageSide && side <= maxImageSide;
  });
  if (!fits) {
    throw new RangeError(`Expected input of length n×C×H×W for n = ${n} (C = ${c}, square sides of ${minImageSide} to ` +
      `${maxImageSide}) but received ${input.length}`);
  }
  return n;
}

/**
 * A residual shortcut, one of the addon's (constants.shortcuts): A (identity, zero-padded where the shape changes),
 * B (1×1 projections there), plain (none).
 */
export function checkShortcut(shortcut: unknown, name = 'shortcut'): NativeShortcut {
  return v.oneOf(name, shortcut, native().constants.shortcuts);
}

/** A network with `has` outputs for a dataset of `classes` classes (a model's classes, or a module's outputs). */
export function checkClasses(has: number, classes: number, noun: 'model' | 'module' = 'model'): void {
  if (has === classes) return;
  throw new RangeError(noun === 'model'
    ? `Expected a model with ${classes} classes for this dataset but it has ${has}`
    : `Expected a module with ${classes} outputs for this dataset but it has ${has}`);
}

/**
 * A network of `channels` input channels for images of `shape`: the same channels, or grey images for a colour
 * network (their channel is repeated three times).
 */
export function checkInput(channels: number, shape: ImageShape, noun: 'model' | 'module' = 'model'): void {
  if (channels === shape.channels || (channels === 3 && shape.channels === 1)) return;
  throw new RangeError(`Expected a ${noun} of ${shape.channels} input channel(s) for this dataset's ` +
    `${shape.channels}×${shape.height}×${shape.width} images but it has ${channels}`);
}

export function checkDepth(depth: unknown): number {
  const { minDepth, maxDepth } = native().constants;
  const what = `of the form 6n+2 (20, 32, 44, …) up to ${maxDepth}`;
  if (typeof depth !== 'number') throw v.invalid('depth', what, depth);
  if (!Number.isInteger(depth) || depth < minDepth || (depth - 2) % 6 !== 0 || depth > maxDepth) {
    throw v.invalid('depth', what, depth, RangeError);
  }
  return depth;
}
