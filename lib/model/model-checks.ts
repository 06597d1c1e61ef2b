// Checks of a network's shape and of image batches, shared by ResNet and the foreign models.
import { native, type NativeShortcut } from '../base/native';
import { IMAGE_SIZE } from '../base/normalization';
import * as v from '../base/validate';

/** The image count of an NCHW float32 batch given to predict (n, or inferred from the length), checked. */
export function checkImages(input: unknown, n?: number): number {
  if (!(input instanceof Float32Array)) throw v.invalid('input', 'to be a Float32Array (NCHW, n×3×32×32)', input);
  const count = n ?? input.length / IMAGE_SIZE;
  if (n !== undefined) v.integer('n', n, 1);
  if (!Number.isInteger(count) || count < 1 || input.length !== count * IMAGE_SIZE) {
    throw new RangeError(
      n === undefined
        ? `Expected input length to be a positive multiple of 3×32×32 = ${IMAGE_SIZE} but received ${input.length}`
        : `Expected input of length n×3×32×32 = ${count * IMAGE_SIZE} for n = ${count} but received ${input.length}`,
    );
  }
  return count;
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

export function checkDepth(depth: unknown): number {
  const { minDepth, maxDepth } = native().constants;
  const what = `of the form 6n+2 (20, 32, 44, …) up to ${maxDepth}`;
  if (typeof depth !== 'number') throw v.invalid('depth', what, depth);
  if (!Number.isInteger(depth) || depth < minDepth || (depth - 2) % 6 !== 0 || depth > maxDepth) {
    throw v.invalid('depth', what, depth, RangeError);
  }
  return depth;
}
