// predict and evaluate over any native network, ours (ResNet) or PyTorch's programs (ForeignModel): one path, one
// set of checks, so that both classes behave and fail alike.
import { ImageDataset } from '../data/image-dataset';
import { summarizeEvaluation, type Evaluation } from './evaluation';
import { checkClasses, checkImages, checkInput } from './model-checks';
import type { NativeDataset, NativeEvaluation, NativeNormalization } from '../base/native';
import { normalizationMismatch, toNative, type Normalization } from '../base/normalization';
import { checkPrecision, type Precision } from '../base/precision';
import { EVAL_BATCH_SIZE } from '../base/recipe';
import * as v from '../base/validate';

/** What the two native network classes share. */
export interface NativeNetwork {
  device(): string;
  predict(input: Float32Array, n: number, precision: Precision): Promise<Float32Array>;
  evaluate(data: NativeDataset, batchSize: number, normalization: NativeNormalization, precision: Precision): Promise<NativeEvaluation>;
}

/** How many images one predict or evaluate batch may hold. */
export const MAX_BATCH = 100_000;

/**
 * Logits for n already-normalized NCHW float32 images of `channels` channels, at options.precision (default
 * `precision`).
 */
export function predictOn(net: NativeNetwork, input: Float32Array, n: number | undefined, options: unknown,
  precision: Precision, channels: number): Promise<Float32Array> {
  const o = v.checkKeys('predict', options, ['precision']);
  return net.predict(input, checkImages(input, n, channels), checkPrecision('precision', o.precision ?? precision, net.device()));
}

export interface EvaluateDefaults {
  /** The precision when options set none. */
  precision: Precision;
  /** The normalization when options set none (checked, native form). */
  normalization: NativeNormalization;
  /** Whether options may set a normalization (a ResNet's evaluate may; a foreign module's keeps its own). */
  normalizationOption: boolean;
  /** The network's output count, and what to call the network in the class-count error. */
  classes: number;
  noun: 'model' | 'module';
  /** The network's input channels. */
  inChannels: number;
}

/** Test error, loss, per-class error and confusion matrix on a dataset, checked as every evaluate is. */
export async function evaluateOn(net: NativeNetwork, data: unknown, options: unknown, d: EvaluateDefaults): Promise<Evaluation> {
  if (!(data instanceof ImageDataset)) throw v.expected('an ImageDataset (Cifar10, ImageDataset.fromArrays, …)', data);
  const o = v.checkKeys('evaluate', options, d.normalizationOption ? ['batchSize', 'normalization', 'precision'] : ['batchSize', 'precision']);
  const precision = checkPrecision('precision', o.precision ?? d.precision, net.device());
  const batchSize = v.integer('batchSize', o.batchSize ?? EVAL_BATCH_SIZE, 1, MAX_BATCH);
  const normalization = o.normalization !== undefined ? toNative(o.normalization as Normalization) : d.normalization;
  checkClasses(d.classes, data.classes.length, d.noun);
  checkInput(d.inChannels, data.shape, d.noun);
  const mismatch = normalizationMismatch(normalization, [d.inChannels, data.shape.height, data.shape.width]);
  if (mismatch) throw new RangeError(`Cannot evaluate on this dataset: ${mismatch}`);
  const images = await data.nativeFor(d.inChannels);
  return summarizeEvaluation(await net.evaluate(images, batchSize, normalization, precision), data.classes);
}
