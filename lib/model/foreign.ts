// Models PyTorch exported, evaluated like a ResNet: TorchScript modules (torch.jit.script or torch.jit.trace, saved
// with torch.jit.save) and AOTInductor packages (torch.export, then torch._inductor.aoti_compile_and_package).
import { native, type NativeForeignModule, type NativeNormalization } from '../base/native';
import type { ImageDataset } from '../data/image-dataset';
import type { DeviceSpec } from './resnet';
import type { Evaluation } from './evaluation';
import { Batcher, type BatcherOptions } from './batcher';
import { evaluateOn, predictOn } from './inference';
import { CIFAR10_CHANNEL_NORMALIZATION, fromNative, toNative, type Normalization } from '../base/normalization';
import { checkPrecision, type Precision } from '../base/precision';
import * as v from '../base/validate';

/** How loadTorchScript and loadExported load a module and run it. */
export interface ForeignModelOptions {
  /** Default 'auto'. */
  device?: DeviceSpec;
  /**
   * How evaluate() normalizes images (pixels / 255) before the module: by default the standard CIFAR-10 per-channel
   * mean (0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616), as torchvision-style training scripts use.
   */
  normalize?: Normalization;
  /** Compute precision of predict and evaluate (default 'fp32'; each call may override it). */
  precision?: Precision;
}
/** loadTorchScript's options. */
export type TorchScriptOptions = ForeignModelOptions;
/** loadExported's options. */
export type ExportedOptions = ForeignModelOptions;

const KEYS = ['device', 'normalize', 'precision'];

/** What TorchScriptModel and ExportedModel share: predict and evaluate on a module PyTorch exported. */
export abstract class ForeignModel {
  #native: NativeForeignModule | undefined;
  #normalization: NativeNormalization;
  /** The normalization evaluate() applies. */
  readonly normalization: Normalization;
  /** The compute precision predict and evaluate use unless told otherwise. */
  readonly precision: Precision;

  /** @internal */
  protected constructor(m: NativeForeignModule, normalization: NativeNormalization, precision: Precision) {
    this.#native = m;
    this.#normalization = normalization;
    this.normalization = fromNative(normalization);
    this.precision = precision;
  }

  /** Loads with `load`, naming the file in every error (libtorch's own messages do not always). @internal */
  protected static async open(what: string, path: string, options: ForeignModelOptions,
    load: (path: string, device: string) => Promise<NativeForeignModule>) {
    v.nonEmptyString('path', path);
    const o = v.checkKeys(what, options, KEYS);
    const device = v.device('device', o.device ?? 'auto');
    const precision = checkPrecision('precision', o.precision ?? 'fp32', undefined); // the device's rule after loading
    const normalization = toNative(o.normalize ?? CIFAR10_CHANNEL_NORMALIZATION, 'normalize');
    const m = await load(path, device).catch((e: Error) => {
      if (e instanceof Error && !e.message.includes(path)) e.message = `Cannot load ${path}: ${e.message}`;
      throw e;
    });
    try {
      checkPrecision('precision', precision, m.device());
    } catch (e) {
      m.dispose();
      throw e;
    }
    return { m, normalization, precision };
  }

  get #live(): NativeForeignModule {
    if (!this.#native || this.#native.disposed()) throw new Error('This model has been disposed');
    return this.#native;
  }

  /** Classes the module outputs (from a probe at load time). */
  get numClasses(): number {
    return this.#live.numClasses();
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this.#live.device();
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return !this.#native || this.#native.disposed();
  }

  /** Logits for n already-normalized NCHW float32 images, without gradients, off the main thread. */
  async predict(input: Float32Array, n?: number, options: { precision?: Precision } = {}): Promise<Float32Array> {
    return predictOn(this.#live, input, n, options, this.precision, 3);
  }

  /** Test error, loss, per-class error and confusion matrix, with `normalization` applied to the raw images. */
  async evaluate(data: ImageDataset, options: { batchSize?: number; precision?: Precision } = {}): Promise<Evaluation> {
    const m = this.#live;
    return evaluateOn(m, data, options, {
      precision: this.precision, normalization: this.#normalization, normalizationOption: false, classes: m.numClasses(), noun: 'module',
      inChannels: 3,
    });
  }

  /** A Batcher over this module (see ResNet.batcher), at this module's precision unless told otherwise. */
  batcher(options: BatcherOptions = {}): Batcher {
    return new Batcher(this, options, this.precision);
  }

  /** Frees the module now (the GC would also, later). Pending work completes first. Idempotent. */
  dispose(): void {
    this.#native?.dispose();
  }
}

/** A scripted or traced module saved by torch.jit.save. */
export class TorchScriptModel extends ForeignModel {
  // Made by its load function only (private: no public constructor in the typings either).
  private constructor(m: NativeForeignModule, normalization: NativeNormalization, precision: Precision) {
    super(m, normalization, precision);
  }

  /** @internal */
  static async load(path: string, options: TorchScriptOptions = {}): Promise<TorchScriptModel> {
    const { m, normalization, precision } = await ForeignModel.open('loadTorchScript', path, options,
      (p, d) => native().ForeignModule.loadTorchScript(p, d));
    return new TorchScriptModel(m, normalization, precision);
  }
}

/** An AOTInductor package (.pt2) compiled for this device kind, with a dynamic batch dimension. */
export class ExportedModel extends ForeignModel {
  // Made by its load function only (private: no public constructor in the typings either).
  private constructor(m: NativeForeignModule, normalization: NativeNormalization, precision: Precision) {
    super(m, normalization, precision);
  }

  /** @internal */
  static async load(path: string, options: ExportedOptions = {}): Promise<ExportedModel> {
    const { m, normalization, precision } = await ForeignModel.open('loadExported', path, options,
      (p, d) => native().ForeignModule.loadExported(p, d));
    return new ExportedModel(m, normalization, precision);
  }
}

/**
 * Loads a scripted or traced module saved by PyTorch's torch.jit.save.
 *
 * A TorchScript file is a program, not data: its code runs when it is loaded and called, with this process's
 * rights (as PyTorch's security policy says of it). Load only files you would run. Weights alone go through
 * `ResNet.load`, whose reader builds plain data only.
 */
export function loadTorchScript(path: string, options: TorchScriptOptions = {}): Promise<TorchScriptModel> {
  return TorchScriptModel.load(path, options);
}

/**
 * Loads a torch.export model compiled by torch._inductor.aoti_compile_and_package (a .pt2 package); export it with
 * a dynamic batch dimension (torch.export.Dim) and for the device it will run on.
 *
 * A .pt2 package is a program: it holds a compiled shared library that is loaded into this process and runs with
 * its rights. Load only files you would run. (Its zip is checked first, and libtorch loads a private copy of the
 * bytes checked, never the path again.)
 */
export function loadExported(path: string, options: ExportedOptions = {}): Promise<ExportedModel> {
  return ExportedModel.load(path, options);
}
