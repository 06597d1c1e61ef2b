// The one file that loads the compiled addon and declares its whole surface. Everything else in lib/ goes
// through `native()`; nothing here validates (lib/validate.ts does, before any call reaches C++).
import * as path from 'node:path';

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
  libraries: { c10: string; torch_cpu: string; addon: string };
  build: 'cmake-js' | 'node-gyp';
}

export interface NativeModelOptions {
  depth: number;
  shortcut: 'A' | 'B' | 'plain';
  numClasses: number;
  device: string;
  seed?: number;
}

/** Plain data stored in checkpoint meta: what Python's torch.load(weights_only=True) reads back. */
export type MetaValue = string | number | boolean | null | MetaValue[] | { [key: string]: MetaValue };

export interface NativeModel {
  parameterCount(): number;
  config(): { depth: number; shortcut: 'A' | 'B' | 'plain'; numClasses: number };
  device(): string;
  training(): boolean;
  setTraining(on: boolean): void;
  meta(): Record<string, MetaValue>;
  /** NCHW float32 input of n images -> n x numClasses logits. */
  predict(input: Float32Array, n: number): Promise<Float32Array>;
  save(path: string, meta?: Record<string, MetaValue>): Promise<void>;
  loadStateDict(path: string): Promise<void>;
  /** mean: 3 or 3072 values (of pixels / 255); std: 3 values. */
  evaluate(data: NativeDataset, batchSize: number, mean: Float32Array, std: Float32Array): Promise<NativeEvaluation>;
  stateDictNames(): string[];
  dispose(): void;
  disposed(): boolean;
}

export interface NativeEvaluation {
  count: number;
  lossSum: number;
  /** numClasses x numClasses, row = true class, column = predicted. */
  confusion: number[];
}

export interface NativeDataset {
  length(): number;
  labelCounts(classes: number): number[];
  slice(start: number, end: number): NativeDataset;
  images(start: number, count: number): { pixels: Uint8Array; labels: Uint8Array };
  channelStats(): Promise<{ mean: number[]; std: number[] }>;
  pixelMean(): Promise<Float32Array>;
}

export interface NativeDatasetConstructor {
  /** CIFAR-10 binary batch files: paths, or bytes in memory named for error messages. */
  loadBatches(sources: (string | { name: string; data: Uint8Array })[]): Promise<NativeDataset>;
}

export interface NativeModelConstructor {
  new (options: NativeModelOptions): NativeModel;
  load(path: string, device: string): Promise<NativeModel>;
}

export interface NativeFitOptions {
  iterations: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  milestones: number[];
  gamma: number;
  warmupLr: number;
  warmupIterations: number;
  /** -1: unused. */
  warmupUntilError: number;
  seed: number;
  reportEvery: number;
  evalEvery: number;
  evalBatchSize: number;
  /** '' for none. */
  checkpointDir: string;
  checkpointEvery: number;
  resume: boolean;
  channelsLast: boolean;
  /** Fused train-mode BatchNorm + ReLU kernels on the CPU (default true). */
  fusedBatchNorm?: boolean;
  stepOnly: boolean;
  /** On the CPU too, build batches with the torch-ops path CUDA uses (tests compare it with the fused CPU path). */
  genericBatch?: boolean;
  normalization: 'pixel' | 'channel';
  /** 3 or 3072 values of pixels / 255. */
  mean: Float32Array;
  std: Float32Array;
  meta?: Record<string, MetaValue>;
}

export interface NativeTrainRecord {
  iteration: number;
  epoch: number;
  lr: number;
  loss: number;
  trainError: number;
  imagesPerSecond: number;
}

export type NativeFitEvent =
  | ({ kind: 'train'; elapsed: number } & NativeTrainRecord)
  | ({ kind: 'eval'; iteration: number } & NativeEvaluation)
  | { kind: 'checkpoint'; iteration: number; path: string };

export interface NativeFitResult {
  iteration: number;
  startIteration: number;
  stopped: 'completed' | 'aborted';
  seconds: number;
  checkpoint: string | null;
  train: NativeTrainRecord[];
  eval: { iteration: number; error: number; loss: number }[];
  normalization: { kind: 'pixel' | 'channel'; mean: Float32Array; std: Float32Array };
}

export interface NativeTrainingBatch {
  input: Float32Array;
  labels: Int32Array;
  /** Dataset index of each image. */
  index: Int32Array;
  /** Crop offsets (0..8) into the zero-padded 40x40 image. */
  dy: Int32Array;
  dx: Int32Array;
  /** 1 where the crop is flipped horizontally. */
  flip: Uint8Array;
}

export interface NativeFitHandle {
  promise: Promise<NativeFitResult>;
  abort(): void;
}

export interface NativeScriptModule {
  predict(input: Float32Array, n: number): Promise<Float32Array>;
  evaluate(data: NativeDataset, batchSize: number, mean: Float32Array, std: Float32Array): Promise<NativeEvaluation>;
  numClasses(): number;
  device(): string;
  dispose(): void;
  disposed(): boolean;
}

export interface NativeScriptModuleConstructor {
  load(path: string, device: string): Promise<NativeScriptModule>;
}

export interface NativeAddon {
  ScriptModule: NativeScriptModuleConstructor;
  /** Trains on a native thread; events arrive on the main thread without blocking it. */
  fit(model: NativeModel, train: NativeDataset, evalData: NativeDataset | null, options: NativeFitOptions,
    onEvent: (e: NativeFitEvent) => void): NativeFitHandle;
  /** Aborts every running fit and joins its thread (checkpoints are written); used on process exit. */
  stopAllFits(): void;
  /** The augmented, normalized batch a fit with these options trains on at `iteration` (NCHW, CPU). */
  trainingBatch(data: NativeDataset, options: NativeFitOptions, iteration: number): NativeTrainingBatch;
  Model: NativeModelConstructor;
  Dataset: NativeDatasetConstructor;
  info(): NativeLibtorchInfo;
  setNumThreads(threads: number): void;
  /**
   * For tests: one train-mode BatchNorm + ReLU (+ residual) forward and backward on NCHW arrays, through the fused
   * CPU kernels (fused true) or libtorch's BatchNorm2d and relu; running statistics start at 0 / 1, momentum 0.1.
   */
  batchNormRelu(
    args: { x: Float32Array; shape: [number, number, number, number]; weight: Float32Array; bias: Float32Array;
      grad: Float32Array; residual?: Float32Array },
    fused: boolean,
  ): { out: Float32Array; gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array;
    gradResidual?: Float32Array; runningMean: Float32Array; runningVar: Float32Array };
}

let addon: NativeAddon | undefined;

/** Loads build/Release/resnet_cifar.node (or RESNET_CIFAR_ADDON, a path to another build of it) once. */
export function native(): NativeAddon {
  if (addon) return addon;
  const override = process.env.RESNET_CIFAR_ADDON;
  try {
    addon = (override
      ? require(path.resolve(override))
      : require('bindings')({ bindings: 'resnet_cifar.node', module_root: path.join(__dirname, '..') })) as NativeAddon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `resnet-cifar: cannot load the native addon (${msg.split('\n')[0]}). ` +
        'Build it with `npm install` or `npm run build:native`; `npm run libtorch` shows which libtorch it uses.',
    );
  }
  return addon;
}
