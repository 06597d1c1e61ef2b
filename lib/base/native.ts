// The one file that loads the compiled addon and declares its whole surface: the bottom layer of lib/, importing
// nothing else from lib/. Everything else goes through `native()`; nothing here validates (lib/base/validate.ts does,
// before any call reaches C++). The addon's surface is declared here, in the public vocabulary of types.ts (the one
// file it imports), under the Native* names the rest of lib/ uses for the addon's side.
import * as path from 'node:path';
import type {
  CheckpointTrainerState, EvalPoint, FitStop, MetaValue, NormalizationValues, Precision, ResNetConfig,
  ResolvedTrainerOptions, Shortcut, Stage, TrainingBatch, TrainPoint,
} from './types';

export type { MetaValue };
// The addon's names for the public vocabulary of types.ts.
export type NativePrecision = Precision;
export type NativeShortcut = Shortcut;
export type NativeFitStop = FitStop;
export type NativeModelConfig = ResNetConfig;
export type NativeTrainPoint = TrainPoint;
export type NativeEvalPoint = EvalPoint;
export type NativeTrainingBatch = TrainingBatch;
export type NativeNormalization = NormalizationValues;
/** The trainer's options as the addon takes them: the length and milestones in iterations (Trainer.schedule). */
export type NativeTrainerOptions = Omit<ResolvedTrainerOptions, 'iterations' | 'epochs'> & { iterations: number };






export interface NativeLibtorchInfo {
  version: string;
  cuda: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudnnAvailable: boolean;
  threads: number;
  interopThreads: number;
  /** How the fused BatchNorm + ReLU kernels run: on libtorch's OpenMP threads, or single-threaded. */
  fusedKernels: 'openmp' | 'single-thread';
  /** bfloat16 support of this CPU and the path bf16 compute takes. */
  cpu: { amxBf16: boolean; avx512Bf16: boolean; bf16: 'amx-bf16' | 'avx512-bf16' | 'emulated'; isaCap: string | null };
  /** The c10d backends this build has for data-parallel training (e.g. ['gloo']; [] without). */
  distributed: string[];
  libraries: { c10: string; torch_cpu: string; addon: string };
  build: 'cmake-js' | 'node-gyp';
}

export interface NativeModelOptions {
  depth: number;
  shortcut: NativeShortcut;
  numClasses: number;
  /** Absent: 3. */
  inChannels?: number;
  device: string;
  seed?: number;
}

/**
 * How weights are written: our checkpoint (torch.save format) or the same in safetensors, or a plain state dict in
 * the seed's layout or akamaster/pytorch_resnet_cifar10's.
 */
export type WeightsFormat = 'checkpoint' | 'safetensors' | 'state-dict' | 'akamaster';



export interface NativeModel {
  parameterCount(): number;
  config(): NativeModelConfig;
  device(): string;
  training(): boolean;
  setTraining(on: boolean): void;
  /** The meta a checkpoint of this model holds: format keys, normalization, and the meta it was loaded with. */
  meta(): Record<string, MetaValue>;
  /** What the model was trained with (its checkpoint's, or its last fit's); null for a new model. */
  normalization(): NativeNormalization | null;
  /** NCHW float32 input of n images -> n x numClasses logits (float32, computed at `precision`). */
  predict(input: Float32Array, n: number, precision: NativePrecision): Promise<Float32Array>;
  /** normalization: stored instead of the model's own (null/undefined: the model's own, if any). */
  save(path: string, meta?: Record<string, MetaValue>, normalization?: NativeNormalization | null,
    format?: WeightsFormat): Promise<void>;
  loadStateDict(path: string): Promise<void>;
  /** normalization null: the model's own (an error if it has none). */
  evaluate(data: NativeDataset, batchSize: number, normalization: NativeNormalization | null,
    precision: NativePrecision): Promise<NativeEvaluation>;
  stateDictNames(): string[];
  /** A new head for numClasses classes (seeded when seed is given); the meta's class names are dropped. */
  resetClassifier(numClasses: number, seed?: number): void;
  /** A float32 copy of every parameter and buffer, by state-dict name (taken after the model's pending work). */
  stateDictTensors(): Promise<Record<string, Float32Array>>;
  dispose(): void;
  disposed(): boolean;
}

export interface NativeEvaluation {
  count: number;
  /** Mean cross-entropy. */
  loss: number;
  /** Top-1 error in percent. */
  error: number;
  /** numClasses x numClasses, row = true class, column = predicted. */
  confusion: number[];
  classCounts: number[];
  /** Error (%) of each true class. */
  classErrors: number[];
}

export interface NativeDataset {
  length(): number;
  labelCounts(classes: number): number[];
  slice(start: number, end: number): NativeDataset;
  /** [channels, height, width]. */
  shape(): [number, number, number];
  /** Grey images as colour ones (the channel three times). */
  repeatGrey(): Promise<NativeDataset>;
  images(start: number, count: number): { pixels: Uint8Array; labels: Int32Array };
  /** The normalization of this kind these images define (computed once, then kept). */
  statistics(kind: 'pixel' | 'channel'): Promise<NativeNormalization>;
}

export interface NativeDatasetConstructor {
  /** CIFAR-10 binary batch files: paths, or bytes in memory named for error messages. */
  loadBatches(sources: (string | { name: string; data: Uint8Array })[],
    format?: 'cifar10' | 'cifar100-fine' | 'cifar100-coarse'): Promise<NativeDataset>;
  /** Pixels (copied) in either layout and labels 0..classes-1. */
  fromPixels(pixels: Uint8Array, labels: Int32Array,
    options: { channels: number; height: number; width: number; layout: 'nchw' | 'nhwc'; classes: number }): Promise<NativeDataset>;
  /** IDX image (N×H×W) and label files, plain or gzip; classes 0: the largest label + 1. */
  loadIdx(images: string, labels: string, classes: number, maxBytes: number): Promise<NativeDataset>;
}

export interface NativeModelConstructor {
  new (options: NativeModelOptions): NativeModel;
  /** Our checkpoints and foreign state dicts (shortcut: what option A vs plain weights cannot tell). */
  load(path: string, device: string, shortcut?: NativeShortcut): Promise<NativeModel>;
}

/** One fit: the trainer's options and what this fit reports, evaluates and writes. */
export interface NativeFitOptions extends NativeTrainerOptions {
  reportEvery: number;
  /** Absent: evaluate only at the end. */
  evalEvery?: number;
  evalBatchSize: number;
  /** The checkpoint file; absent: none. */
  checkpointPath?: string;
  /** Absent: a checkpoint only at the end and on abort. */
  checkpointEvery?: number;
  resume?: boolean;
  stepOnly?: boolean;
  /** On the CPU too, build batches with the torch-ops path CUDA uses (tests compare it with the fused CPU path). */
  genericBatch?: boolean;
  meta?: Record<string, MetaValue>;
}

export type NativeFitEvent =
  | ({ kind: 'train'; elapsed: number } & NativeTrainPoint)
  | ({ kind: 'eval'; iteration: number } & NativeEvaluation)
  | { kind: 'checkpoint'; iteration: number; path: string };

export interface NativeFitResult {
  iteration: number;
  startIteration: number;
  /** Resolved fits end completed or aborted; a NaN/inf loss rejects, with `stopped: 'nan'` on the error. */
  stopped: Exclude<NativeFitStop, 'nan'>;
  seconds: number;
  checkpoint: string | null;
  train: NativeTrainPoint[];
  eval: NativeEvalPoint[];
  normalization: NativeNormalization | null;
  /** What a user should know about the run (e.g. resumed at another precision). */
  notes: string[];
}

export interface NativeFitHandle {
  promise: Promise<NativeFitResult>;
  abort(): void;
}

export interface NativeCheckpoint {
  config: NativeModelConfig;
  meta: Record<string, MetaValue>;
  normalization: NativeNormalization | null;
  libtorch: string;
  trainer: null | (CheckpointTrainerState & {
    /** With tensors: the momentum buffers by parameter name. */
    momentum?: Record<string, Float32Array>;
  });
  /** With tensors: every parameter and buffer (as float32). */
  stateDict?: Record<string, Float32Array>;
}

export interface NativeForeignModule {
  predict(input: Float32Array, n: number, precision: NativePrecision): Promise<Float32Array>;
  evaluate(data: NativeDataset, batchSize: number, normalization: NativeNormalization,
    precision: NativePrecision): Promise<NativeEvaluation>;
  numClasses(): number;
  device(): string;
  dispose(): void;
  disposed(): boolean;
}

export interface NativeForeignModuleConstructor {
  /** A module saved by torch.jit.save. */
  loadTorchScript(path: string, device: string): Promise<NativeForeignModule>;
  /** An AOTInductor package (.pt2). */
  loadExported(path: string, device: string): Promise<NativeForeignModule>;
}

/** Bounds and names native code enforces, defined there once; lib/ checks options against them. */
export interface NativeConstants {
  minDepth: number;
  maxDepth: number;
  maxClasses: number;
  /** Image sides a dataset may have (native/core/base/image_shape.h). */
  minImageSide: number;
  maxImageSide: number;
  /** Classes a dataset may have. */
  minDatasetClasses: number;
  maxDatasetClasses: number;
  /** The largest augmentation pad. */
  maxPad: number;
  /** The network's stages, as fine-tuning names them. */
  stages: Stage[];
  checkpointFormat: string;
  checkpointFormatVersion: number;
  /** Meta keys the checkpoint format writes itself. */
  reservedMetaKeys: string[];
  /** How deep a meta's arrays and objects may nest (native/core/base/limits.h). */
  maxMetaNesting: number;
  /** The enumerations the addon parses, as it names them; lib/ checks options against these. */
  shortcuts: NativeShortcut[];
  precisions: NativePrecision[];
  normalizationKinds: ('pixel' | 'channel')[];
}

export interface NativeAddon {
  Model: NativeModelConstructor;
  Dataset: NativeDatasetConstructor;
  ForeignModule: NativeForeignModuleConstructor;
  /** Trains on a native thread; events arrive on the main thread without blocking it; the Promise settles last. */
  fit(model: NativeModel, train: NativeDataset, evalData: NativeDataset | null, options: NativeFitOptions,
    onEvent: (e: NativeFitEvent) => void): NativeFitHandle;
  /** Aborts every running fit and joins its thread (checkpoints are written); used on process exit. */
  stopAllFits(): void;
  /** The augmented, normalized batch a fit with these options trains on at `iteration`, built on `device` (NCHW). */
  trainingBatch(data: NativeDataset, options: NativeFitOptions, iteration: number, device?: string): Promise<NativeTrainingBatch>;
  /** One of our checkpoint files; without tensors, no tensor data is read. */
  readCheckpoint(path: string, tensors: boolean): Promise<NativeCheckpoint>;
  info(): NativeLibtorchInfo;
  setNumThreads(threads: number): void;
  /** Writes a new temporary file beside `path` (O_EXCL | O_NOFOLLOW), fsyncs it and renames it over `path`. */
  writeFileAtomic(path: string, data: string | Uint8Array): void;
  /**
   * The members of a .tar.gz named in `wanted` (path -> the most bytes it may have), read off the main thread;
   * `names` lists every regular file seen.
   */
  readTarGz(path: string, wanted: Record<string, number>): Promise<{ members: { name: string; data: Uint8Array }[]; names: string[] }>;
  /** The files the addon decodes itself (common PNGs of exactly this size; common JPEGs, resized as sharp's fit 'cover' when `cover`, else of this aspect ratio): decoded[i] 1, their HWC bytes in pixels. */
  decodeImageFiles(files: string[], channels: number, height: number, width: number, maxPixels: number, cover: boolean): Promise<{ decoded: Uint8Array; pixels: Uint8Array }>;
  constants: NativeConstants;
  /**
   * Only in an addon built in a checkout with its tests (absent from an installed package's). For tests: one train-mode BatchNorm + ReLU (+ residual) forward and backward on NCHW arrays, through the fused
   * CPU kernels (fused true) or libtorch's BatchNorm2d and relu; running statistics start at 0 / 1, momentum 0.1.
   * bf16: the activations (x, grad, residual) are rounded to bfloat16 and the layer runs on them.
   */
  batchNormRelu?(
    args: { x: Float32Array; shape: [number, number, number, number]; weight: Float32Array; bias: Float32Array;
      grad: Float32Array; residual?: Float32Array; bf16?: boolean },
    fused: boolean,
  ): { out: Float32Array; gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array;
    gradResidual?: Float32Array; runningMean: Float32Array; runningVar: Float32Array; dtype: 'fp32' | 'bf16' };
}

let addon: NativeAddon | undefined;

/** Loads build/Release/resnet_cifar.node (or RESNET_CIFAR_ADDON, a path to another build of it) once. */
export function native(): NativeAddon {
  if (addon) return addon;
  const override = process.env.RESNET_CIFAR_ADDON;
  try {
    addon = (override
      ? require(path.resolve(override))
      : require('bindings')({ bindings: 'resnet_cifar.node', module_root: path.join(__dirname, '..', '..') })) as NativeAddon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `resnet-cifar: cannot load the native addon (${msg.split('\n')[0]}). ` +
        'Build it with `npm install` or `npm run build:native`; `npm run libtorch` shows which libtorch it uses.',
    );
  }
  return addon;
}
