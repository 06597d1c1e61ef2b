// TorchScript models exported by PyTorch (torch.jit.script or torch.jit.trace), evaluated like a ResNet.
import { native, type NativeScriptModule } from './native';
import { Cifar10 } from './cifar10';
import { checkImages, summarizeEvaluation, type DeviceSpec, type Evaluation } from './resnet';
import { CIFAR10_CHANNEL_NORMALIZATION, toNative, type Normalization } from './normalization';
import { checkPrecision, type Precision } from './precision';
import * as v from './validate';

export interface TorchScriptOptions {
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

export class TorchScriptModel {
  #native: NativeScriptModule | undefined;
  /** The normalization evaluate() applies. */
  readonly normalization: Normalization;
  /** The compute precision predict and evaluate use unless told otherwise. */
  readonly precision: Precision;

  private constructor(m: NativeScriptModule, normalization: Normalization, precision: Precision) {
    this.#native = m;
    this.normalization = normalization;
    this.precision = precision;
  }

  /** @internal */
  static async load(path: string, options: TorchScriptOptions = {}): Promise<TorchScriptModel> {
    v.nonEmptyString('path', path);
    const o = v.checkKeys('loadTorchScript', options, ['device', 'normalize', 'precision']);
    const precision = checkPrecision('precision', o.precision ?? 'fp32');
    const device = v.device('device', o.device ?? 'auto');
    const normalization = (o.normalize ?? CIFAR10_CHANNEL_NORMALIZATION) as Normalization;
    toNative(normalization, 'normalize');
    // libtorch's own errors (e.g. a script that fails to compile after a flipped byte in a member name, which no
    // CRC covers) do not say which file: every error names it.
    const loaded = await native().ScriptModule.load(path, device).catch((e: Error) => {
      if (e instanceof Error && !e.message.includes(path)) e.message = `Cannot load TorchScript file ${path}: ${e.message}`;
      throw e;
    });
    return new TorchScriptModel(loaded, normalization, precision);
  }

  get #live(): NativeScriptModule {
    if (!this.#native || this.#native.disposed()) throw new Error('This TorchScript model has been disposed');
    return this.#native;
  }

  /** Classes the module outputs (from a probe at load time). */
  get numClasses(): number {
    return this.#live.numClasses();
  }

  get device(): string {
    return this.#live.device();
  }

  get disposed(): boolean {
    return !this.#native || this.#native.disposed();
  }

  /** Logits for n already-normalized NCHW float32 images, without gradients, off the main thread. */
  async predict(input: Float32Array, n?: number, options: { precision?: Precision } = {}): Promise<Float32Array> {
    const m = this.#live;
    const o = v.checkKeys('predict', options, ['precision']);
    return m.predict(input, checkImages(input, n), checkPrecision('precision', o.precision ?? this.precision));
  }


  /** Test error, loss, per-class error and confusion matrix, with `normalization` applied to the raw images. */
  async evaluate(data: Cifar10, options: { batchSize?: number; precision?: Precision } = {}): Promise<Evaluation> {
    const m = this.#live;
    if (!(data instanceof Cifar10)) throw v.expected('a Cifar10 dataset', data);
    const o = v.checkKeys('evaluate', options, ['batchSize', 'precision']);
    const precision = checkPrecision('precision', o.precision ?? this.precision);
    const batchSize = v.integer('batchSize', o.batchSize ?? 500, 1, 100_000);
    if (m.numClasses() !== data.classes.length) {
      throw new RangeError(`Expected a module with ${data.classes.length} outputs for this dataset but it has ${m.numClasses()}`);
    }
    return summarizeEvaluation(await m.evaluate(data.nativeDataset, batchSize, toNative(this.normalization), precision), data.classes);
  }

  dispose(): void {
    this.#native?.dispose();
  }
}

/** Loads a scripted or traced module saved by PyTorch's torch.jit.save. */
export function loadTorchScript(path: string, options: TorchScriptOptions = {}): Promise<TorchScriptModel> {
  return TorchScriptModel.load(path, options);
}
