// The ResNet-CIFAR model of He et al. (2016), section 4.2: 6n+2 layers, shortcut option A, B or plain.
import { native, type MetaValue, type NativeEvaluation, type NativeModel } from './native';
import * as v from './validate';
import { Cifar10 } from './cifar10';

/** How images (pixels / 255) are normalized before the network: per-channel mean/std, or the paper's per-pixel mean. */
export type Normalization =
  | { kind: 'channel'; mean: number[]; std: number[] }
  | { kind: 'pixel'; mean: Float32Array | number[] };

/** The usual CIFAR-10 training-set per-channel statistics. */
export const CIFAR10_CHANNEL_NORMALIZATION: Normalization = {
  kind: 'channel', mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616],
};

export interface EvaluateOptions {
  /** Images per forward pass (default 500). */
  batchSize?: number;
  /** Default: the checkpoint's stored normalization, else CIFAR10_CHANNEL_NORMALIZATION. */
  normalization?: Normalization;
}

export interface Evaluation {
  /** Top-1 error in percent. */
  error: number;
  /** Mean cross-entropy. */
  loss: number;
  count: number;
  perClass: { name: string; count: number; error: number }[];
  /** confusion[true][predicted]. */
  confusion: number[][];
}

/** Error %, mean loss, per-class errors and the confusion matrix from the native counts. */
export function summarizeEvaluation(r: NativeEvaluation, classNames: readonly string[]): Evaluation {
  const classes = classNames.length;
  const confusion = Array.from({ length: classes }, (_, i) => r.confusion.slice(i * classes, (i + 1) * classes));
  const correct = confusion.reduce((acc, row, i) => acc + row[i], 0);
  return {
    error: (100 * (r.count - correct)) / r.count,
    loss: r.lossSum / r.count,
    count: r.count,
    perClass: confusion.map((row, i) => {
      const count = row.reduce((a, b) => a + b, 0);
      return { name: classNames[i], count, error: count ? (100 * (count - row[i])) / count : 0 };
    }),
    confusion,
  };
}

export function checkNormalization(n: unknown): { mean: Float32Array; std: Float32Array } {
  const what = "normalization { kind: 'channel', mean: [3], std: [3] } or { kind: 'pixel', mean: 3072 values }";
  if (n === null || typeof n !== 'object') throw v.expected(what, n);
  const o = n as Record<string, unknown>;
  const nums = (x: unknown, len: number, name: string) => {
    const ok = (Array.isArray(x) || x instanceof Float32Array) && x.length === len &&
      Array.from(x as ArrayLike<number>).every((e) => typeof e === 'number' && Number.isFinite(e));
    if (!ok) throw v.expected(`${name} to be ${len} finite numbers`, x, RangeError);
    return Float32Array.from(x as ArrayLike<number>);
  };
  if (o.kind === 'channel') {
    const std = nums(o.std, 3, 'normalization.std');
    if (std.some((e) => e <= 0)) throw v.expected('normalization.std to be positive', Array.from(std), RangeError);
    return { mean: nums(o.mean, 3, 'normalization.mean'), std };
  }
  if (o.kind === 'pixel') return { mean: nums(o.mean, IMAGE_SIZE, 'normalization.mean'), std: Float32Array.of(1, 1, 1) };
  throw v.expected(what, n);
}

export type Shortcut = 'A' | 'B' | 'plain';
/** 'auto' picks CUDA when this libtorch has it and a device is visible, else the CPU. */
export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface ResNetOptions {
  /** 6n+2: 20, 32, 44, 56, 110, 1202, ... (default 20). */
  depth?: number;
  /** 'A' identity + zero-padding (default), 'B' 1x1 projections where the shape changes, 'plain' no shortcuts. */
  shortcut?: Shortcut;
  /** Output classes (default 10). */
  numClasses?: number;
  /** Default 'auto'. */
  device?: DeviceSpec;
  /** Seeds the weight initialisation (He normal for convs) for a reproducible model. */
  seed?: number;
}

export interface ResNetConfig {
  depth: number;
  shortcut: Shortcut;
  numClasses: number;
}

export interface LoadOptions {
  device?: DeviceSpec;
}

export interface SaveOptions {
  /** Extra plain data stored under checkpoint['meta'] (JSON-like values). */
  meta?: Record<string, MetaValue>;
}

/** Pixels of one 3x32x32 image. */
export const IMAGE_SIZE = 3 * 32 * 32;
/** The depths of the paper's CIFAR-10 table. */
export const PAPER_DEPTHS = [20, 32, 44, 56, 110, 1202] as const;
const SHORTCUTS = ['A', 'B', 'plain'] as const;

/** The image count of an NCHW float32 batch given to predict (n, or inferred from the length), checked. */
export function checkImages(input: unknown, n?: number): number {
  if (!(input instanceof Float32Array)) throw v.expected('input to be a Float32Array (NCHW, n×3×32×32)', input);
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

export function checkDepth(depth: unknown): number {
  if (typeof depth !== 'number') throw v.expected('depth of the form 6n+2 (20, 32, 44, …)', depth);
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0 || depth > 60002) {
    throw v.expected('depth of the form 6n+2 (20, 32, 44, …)', depth, RangeError);
  }
  return depth;
}

let adopting: NativeModel | undefined; // set only while #wrap constructs a ResNet around a loaded native model

export class ResNet {
  #native: NativeModel | undefined;

  constructor(options: ResNetOptions = {}) {
    if (adopting) {
      this.#native = adopting;
      adopting = undefined;
      return;
    }
    const o = v.checkKeys('ResNet', options, ['depth', 'shortcut', 'numClasses', 'device', 'seed']);
    const depth = checkDepth(o.depth ?? 20);
    const shortcut = v.oneOf('shortcut', o.shortcut ?? 'A', SHORTCUTS);
    const numClasses = v.integer('numClasses', o.numClasses ?? 10, 1, 1_000_000);
    const device = v.device('device', o.device ?? 'auto');
    const seed = o.seed === undefined ? undefined : v.integer('seed', o.seed, 0);
    this.#native = new (native().Model)({ depth, shortcut, numClasses, device, seed });
  }

  /** Reads a checkpoint written by `save` (the model's config comes from the file). */
  static async load(path: string, options: LoadOptions = {}): Promise<ResNet> {
    v.nonEmptyString('path', path);
    const o = v.checkKeys('ResNet.load', options, ['device']);
    const device = v.device('device', o.device ?? 'auto');
    return ResNet.#wrap(await native().Model.load(path, device));
  }

  static #wrap(model: NativeModel): ResNet {
    adopting = model;
    return new ResNet();
  }

  /** The native model, for the other operations of this package. @internal */
  get nativeModel(): NativeModel {
    if (!this.#native || this.#native.disposed()) throw new Error('This ResNet has been disposed');
    return this.#native;
  }

  /** Trainable parameters (269,722 for ResNet-20 option A). */
  get parameterCount(): number {
    return this.nativeModel.parameterCount();
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this.nativeModel.device();
  }

  get config(): ResNetConfig {
    return this.nativeModel.config();
  }

  /** The `meta` dict of the checkpoint this model was loaded from ({} for a new model). */
  get meta(): Record<string, MetaValue> {
    return this.nativeModel.meta();
  }

  /** Whether BN uses batch statistics (train mode). New and loaded models start in eval mode. */
  get training(): boolean {
    return this.nativeModel.training();
  }

  get disposed(): boolean {
    return !this.#native || this.#native.disposed();
  }

  train(on = true): this {
    if (typeof on !== 'boolean') throw v.expected('a boolean', on);
    this.nativeModel.setTraining(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Logits for `n` images given as NCHW float32 (already normalized), without gradients, in the current mode
   * (eval unless `train()` was called). Runs off the main thread.
   */
  async predict(input: Float32Array, n?: number): Promise<Float32Array> {
    const model = this.nativeModel;
    return model.predict(input, checkImages(input, n));
  }


  /** Writes a checkpoint atomically; Python reads it with torch.load(path, weights_only=True). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    const model = this.nativeModel;
    v.nonEmptyString('path', path);
    const o = v.checkKeys('ResNet.save', options, ['meta']);
    if (o.meta !== undefined && (o.meta === null || typeof o.meta !== 'object' || Array.isArray(o.meta))) {
      throw v.expected('meta to be a plain object', o.meta);
    }
    return model.save(path, o.meta as Record<string, MetaValue> | undefined);
  }

  /**
   * Loads a PyTorch state dict (torch.save(model.state_dict(), path)) with the seed's names. Conv biases, if the
   * file has them, are folded into the following BN. The first missing, unexpected or mis-shaped key is an error.
   */
  async loadStateDict(path: string): Promise<void> {
    const model = this.nativeModel;
    v.nonEmptyString('path', path);
    return model.loadStateDict(path);
  }

  /** Test error, loss, per-class error and confusion matrix on a dataset: eval-mode BN, no grad, in batches. */
  async evaluate(data: Cifar10, options: EvaluateOptions = {}): Promise<Evaluation> {
    const model = this.nativeModel;
    if (!(data instanceof Cifar10)) throw v.expected('a Cifar10 dataset', data);
    const o = v.checkKeys('evaluate', options, ['batchSize', 'normalization']);
    const batchSize = v.integer('batchSize', o.batchSize ?? 500, 1, 100_000);
    const stored = model.meta().normalization;
    const norm = checkNormalization(o.normalization ?? stored ?? CIFAR10_CHANNEL_NORMALIZATION);
    const classes = data.classes.length;
    if (model.config().numClasses !== classes) {
      throw new RangeError(`Expected a model with ${classes} classes for this dataset but it has ${model.config().numClasses}`);
    }
    return summarizeEvaluation(await model.evaluate(data.nativeDataset, batchSize, norm.mean, norm.std), data.classes);
  }

  /** State dict keys, in module order (the seed's nets.py naming). */
  stateDictKeys(): string[] {
    return this.nativeModel.stateDictNames();
  }

  /** Frees the native memory now (the GC would also, later). Pending work completes first. Idempotent. */
  dispose(): void {
    this.#native?.dispose();
  }
}
