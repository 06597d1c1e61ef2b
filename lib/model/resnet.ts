// The ResNet-CIFAR model of He et al. (2016), section 4.2: 6n+2 layers, shortcut option A, B or plain.
import { native, type MetaValue, type NativeModel } from '../base/native';
import type { ResNetConfig, Shortcut } from '../base/types';
import * as v from '../base/validate';
import { CIFAR10_CLASSES } from '../data/cifar10';
import type { ImageDataset } from '../data/image-dataset';
import { exportOnnx, type OnnxInput } from '../io/onnx';
import { CIFAR10_CHANNEL_NORMALIZATION, IMAGE_SIZE, fromNative, toNative, type Normalization } from '../base/normalization';
import type { Precision } from '../base/precision';
import { pretrainedFile } from './pretrained';
import type { Evaluation } from './evaluation';
import { Batcher, type BatcherOptions } from './batcher';
import { evaluateOn, predictOn } from './inference';
import { formatOf, type SaveFormat } from '../io/formats';
import { PACKAGE_VERSION } from '../base/info';
import { checkDepth, checkShortcut } from './model-checks';

export { CIFAR10_CHANNEL_NORMALIZATION, IMAGE_SIZE, type Normalization, type Evaluation, type SaveFormat };

/** How predict runs. */
export interface PredictOptions {
  /** Compute precision of the forward pass (default 'fp32'); logits come back as float32 either way. */
  precision?: Precision;
}

/** How evaluate runs. */
export interface EvaluateOptions {
  /** Images per forward pass (default EVAL_BATCH_SIZE: 500). */
  batchSize?: number;
  /** Compute precision of the forward passes (default 'fp32'). */
  precision?: Precision;
  /** Default: the model's own (what it was trained with), else CIFAR10_CHANNEL_NORMALIZATION. */
  normalization?: Normalization;
}


export type { Shortcut, ResNetConfig };
/** 'auto' picks CUDA when this libtorch has it and a device is visible, else the CPU. */
export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** A new network's shape, device and initialisation. */
export interface ResNetOptions {
  /** 6n+2: 20, 32, 44, 56, 110, 1202, ... (default 20). */
  depth?: number;
  /** 'A' identity + zero-padding (default), 'B' 1x1 projections where the shape changes, 'plain' no shortcuts. */
  shortcut?: Shortcut;
  /** Output classes (default 10). */
  numClasses?: number;
  /** Channels of the input images: 3 for colour (default), 1 for grey. */
  inChannels?: 1 | 3;
  /** Default 'auto'. */
  device?: DeviceSpec;
  /** Seeds the weight initialisation (He normal for convs) for a reproducible model. */
  seed?: number;
}

/** How ResNet.load reads weights. */
export interface LoadOptions {
  /** Default 'auto'. */
  device?: DeviceSpec;
  /**
   * For a foreign state dict without projection shortcuts: 'A' (default) or 'plain' (the weights cannot tell them
   * apart). Our checkpoints and option-B weights say what they are.
   */
  shortcut?: Shortcut;
}

/** What ResNet.save writes besides the weights, and in which format. */
export interface SaveOptions {
  /** Extra plain data stored under checkpoint['meta'] (JSON-like values). */
  meta?: Record<string, MetaValue>;
  /** The normalization stored with the weights (default: the model's own, if it has one), used by evaluate. */
  normalization?: Normalization;
  /**
   * 'checkpoint' (ours, torch.save's format; the default, and for every extension but .safetensors), 'safetensors'
   * (ours in safetensors, our meta in its __metadata__; the default for *.safetensors), 'state-dict' (a plain
   * torch.save'd state dict in the seed's layout) or 'akamaster' (akamaster/pytorch_resnet_cifar10's training
   * checkpoint layout, loadable by its code). The last two keep no meta or normalization. 'onnx' (the default for
   * *.onnx): an ONNX graph for ONNX Runtime and other consumers (see `input`).
   */
  format?: SaveFormat;
  /**
   * ONNX only: what the graph takes. 'normalized' (default): NCHW float32 images already normalized, as predict
   * takes them; 'pixels': RGB in [0, 1] (bytes / 255), normalized inside the graph with `normalization` (default
   * the model's own), what a browser page has.
   */
  input?: OnnxInput;
}


const ONNX_INPUTS = ['normalized', 'pixels'] as const;

/** The meta key under which a checkpoint keeps its class names. */
export const CLASS_NAMES_KEY = 'class_names';

/** A checkpoint's class names (meta.class_names when it holds `numClasses` strings), else the defaults. */
function classNamesOf(meta: Record<string, MetaValue>, numClasses: number): readonly string[] {
  const names = meta[CLASS_NAMES_KEY];
  if (Array.isArray(names) && names.length === numClasses && names.every((n) => typeof n === 'string')) return names as string[];
  return numClasses === CIFAR10_CLASSES.length ? CIFAR10_CLASSES : Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}


/** A ResNet-CIFAR network (He et al. 2016, section 4.2) in native memory, on the CPU or a CUDA device; its work runs off the main thread. */
export class ResNet {
  #native: NativeModel | undefined;
  // A loaded native model for the constructor to adopt: set by #wrap, class-private, for one synchronous `new`.
  static #adopting: NativeModel | undefined;

  constructor(options: ResNetOptions = {}) {
    const adopted = ResNet.#adopting;
    if (adopted) {
      ResNet.#adopting = undefined;
      this.#native = adopted;
      return;
    }
    const o = v.checkKeys('ResNet', options, ['depth', 'shortcut', 'numClasses', 'inChannels', 'device', 'seed']);
    const depth = checkDepth(o.depth ?? 20);
    const shortcut = checkShortcut(o.shortcut ?? 'A');
    const numClasses = v.integer('numClasses', o.numClasses ?? 10, 1, native().constants.maxClasses);
    const inChannels = o.inChannels ?? 3;
    if (inChannels !== 1 && inChannels !== 3) {
      throw v.invalid('inChannels', 'to be 3 (colour) or 1 (grey)', inChannels, typeof inChannels === 'number' ? RangeError : TypeError);
    }
    const device = v.device('device', o.device ?? 'auto');
    const seed = o.seed === undefined ? undefined : v.integer('seed', o.seed, 0);
    this.#native = new (native().Model)({ depth, shortcut, numClasses, inChannels, device, seed });
  }

  /**
   * Reads weights; the model's depth, shortcut and classes come from the file. Opens our checkpoints (torch.save's
   * format or safetensors) and the PyTorch world's: state dicts and training checkpoints of the seed's nets.py and of
   * akamaster/pytorch_resnet_cifar10 (DataParallel prefixes stripped; option A's channels mapped exactly), in
   * torch.save's zip format, its legacy pre-1.6 format, or safetensors. Foreign weights carry no normalization:
   * evaluate them with the one their code trained with.
   */
  static async load(path: string, options: LoadOptions = {}): Promise<ResNet> {
    v.nonEmptyString('path', path);
    const o = v.checkKeys('ResNet.load', options, ['device', 'shortcut']);
    const device = v.device('device', o.device ?? 'auto');
    const shortcut = o.shortcut === undefined ? undefined : checkShortcut(o.shortcut);
    return ResNet.#wrap(await native().Model.load(path, device, shortcut));
  }

  /**
   * One of the networks this package ships trained (pretrainedModels() lists them with their test errors), e.g.
   * ResNet.pretrained('resnet20'): our weights with the normalization they were trained with, ready to evaluate
   * and predict.
   */
  static async pretrained(name: string, options: Omit<LoadOptions, 'shortcut'> = {}): Promise<ResNet> {
    const file = pretrainedFile(name);
    const o = v.checkKeys('ResNet.pretrained', options, ['device']);
    return ResNet.load(file, { device: o.device as DeviceSpec | undefined });
  }

  static #wrap(model: NativeModel): ResNet {
    ResNet.#adopting = model;
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

  /** Depth, shortcut, classes and input channels. */
  get config(): ResNetConfig {
    return this.nativeModel.config();
  }

  /**
   * The name of each output class: those its checkpoint's meta holds (`class_names`, written by a fit on a dataset
   * with names of its own), else CIFAR-10's for a 10-class network, else 'class 0', 'class 1', ….
   */
  get classNames(): readonly string[] {
    return classNamesOf(this.meta, this.config.numClasses);
  }

  /** The `meta` dict a checkpoint of this model holds: format keys, normalization, and the meta it was loaded with. */
  get meta(): Record<string, MetaValue> {
    return this.nativeModel.meta();
  }

  /** The normalization the model was trained with (from its checkpoint or its last fit), or undefined. */
  get normalization(): Normalization | undefined {
    const n = this.nativeModel.normalization();
    return n ? fromNative(n) : undefined;
  }

  /** Whether BN uses batch statistics (train mode). New and loaded models start in eval mode. */
  get training(): boolean {
    return this.nativeModel.training();
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return !this.#native || this.#native.disposed();
  }

  /** Puts BatchNorm in train mode (batch statistics; `on` false: eval mode). Returns this. */
  train(on = true): this {
    if (typeof on !== 'boolean') throw v.expected('a boolean', on);
    this.nativeModel.setTraining(on);
    return this;
  }

  /** Puts BatchNorm in eval mode (running statistics), as new and loaded models start. Returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Logits for `n` images given as NCHW float32 (already normalized), without gradients, in the current mode
   * (eval unless `train()` was called). Runs off the main thread.
   */
  async predict(input: Float32Array, n?: number, options: PredictOptions = {}): Promise<Float32Array> {
    return predictOn(this.nativeModel, input, n, options, 'fp32', this.config.inChannels);
  }

  /**
   * A Batcher over this model: single-image predictions from anywhere in the process, coalesced into batches of up
   * to `maxBatch` images or whatever has arrived `maxDelayMs` after the oldest (for a server's requests).
   */
  batcher(options: BatcherOptions = {}): Batcher {
    return new Batcher(this, options, 'fp32');
  }

  /** Writes a checkpoint atomically; Python reads it with torch.load(path, weights_only=True). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    const model = this.nativeModel;
    v.nonEmptyString('path', path);
    const o = v.checkKeys('ResNet.save', options, ['meta', 'normalization', 'format', 'input']);
    const meta = v.meta('meta', o.meta) as Record<string, MetaValue> | undefined;
    const format = formatOf(path, o.format);
    if (format === 'onnx') return this.#saveOnnx(path, o);
    if (o.input !== undefined) throw new TypeError(`Expected no input for format '${format}' (it is an ONNX option)`);
    if ((format === 'state-dict' || format === 'akamaster') && (o.meta !== undefined || o.normalization !== undefined)) {
      throw new TypeError(`Expected no meta or normalization for format '${format}' (a plain state dict keeps neither)`);
    }
    if (format === 'akamaster' && model.config().shortcut === 'plain') {
      throw new RangeError("Expected shortcut 'A' or 'B' for format 'akamaster' (its code has no plain networks)");
    }
    return model.save(path, meta, o.normalization === undefined ? null : toNative(o.normalization), format);
  }

  async #saveOnnx(file: string, o: SaveOptions): Promise<void> {
    if (o.meta !== undefined) throw new TypeError("Expected no meta for format 'onnx' (its metadata_props say what the model is)");
    const input = v.oneOf('input', o.input ?? 'normalized', ONNX_INPUTS);
    const normalization = o.normalization === undefined ? this.nativeModel.normalization() ?? undefined : toNative(o.normalization);
    if (input === 'pixels' && normalization === undefined) {
      throw new TypeError("Expected a normalization for input 'pixels': this model has none (pass normalization)");
    }
    const config = this.config;
    await exportOnnx({
      config,
      meta: this.meta,
      classNames: this.classNames,
      stateDict: () => this.nativeModel.stateDictTensors(),
    }, file, { input, normalization, producerVersion: PACKAGE_VERSION });
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
  async evaluate(data: ImageDataset, options: EvaluateOptions = {}): Promise<Evaluation> {
    const model = this.nativeModel;
    return evaluateOn(model, data, options, {
      precision: 'fp32', normalization: model.normalization() ?? toNative(CIFAR10_CHANNEL_NORMALIZATION), normalizationOption: true,
      classes: model.config().numClasses, noun: 'model', inChannels: model.config().inChannels,
    });
  }

  /**
   * Fine-tuning: a new head (fc) for `numClasses` classes, initialised as a new network's (Kaiming-uniform; seeded
   * with `seed`), every other weight kept. The class names of the old head are dropped. Not during a fit.
   */
  resetClassifier(numClasses: number, options: { seed?: number } = {}): void {
    const o = v.checkKeys('resetClassifier', options, ['seed']);
    const k = v.integer('numClasses', numClasses, 1, native().constants.maxClasses);
    this.nativeModel.resetClassifier(k, o.seed === undefined ? undefined : v.integer('seed', o.seed, 0));
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
