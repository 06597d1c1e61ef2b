// The public vocabulary the addon's contract (native.ts) is written in: the values users pass and get back, named
// and documented once. It imports nothing; native.ts declares the addon's surface in these types.

/** Compute precision of convolutions and matmuls: float32, TensorFloat-32 (CUDA only), or bfloat16 with float32 weights. */
export type Precision = 'fp32' | 'tf32' | 'bf16';

/** The residual shortcut: identity with zero-padding where the shape changes (A), 1×1 projections there (B), or none. */
export type Shortcut = 'A' | 'B' | 'plain';

/** Why a fit ended: its last iteration, an abort, or a NaN/inf loss (then fit rejects, and the error's `stopped` is 'nan'). */
export type FitStop = 'completed' | 'aborted' | 'nan';

/** A ResNet-CIFAR network's shape. */
export interface ResNetConfig {
  /** 6n+2 layers: 20, 32, 44, 56, 110, … */
  depth: number;
  /** The residual shortcut of every block. */
  shortcut: Shortcut;
  /** Outputs of the final fully connected layer. */
  numClasses: number;
  /** Channels of the input images: 3 (RGB) or 1 (grey). */
  inChannels: 1 | 3;
}

/**
 * A part of the network, as fine-tuning names it: 'stem' (the first convolution and its BatchNorm), 'block1',
 * 'block2', 'block3' (the three stages of residual blocks, 16, 32 and 64 channels) and 'fc' (the head).
 */
export type Stage = 'stem' | 'block1' | 'block2' | 'block3' | 'fc';

/** The shape of one image: channels (1: grey, 3: RGB), height and width in pixels. */
export interface ImageShape {
  /** 3: RGB, 1: grey. */
  channels: 1 | 3;
  /** Rows of pixels. */
  height: number;
  /** Columns of pixels. */
  width: number;
}

/**
 * Training-time augmentation: zero-pad by `padCrop` pixels and crop back to the image's size at a random offset
 * (0: no crop), and random left-right flips. The paper's is `{ padCrop: 4, flip: true }`; digits and text want
 * `flip: false`.
 */
export interface Augmentation {
  /** Zero-padding before the random crop back to the image's size, in pixels (0: no crop). */
  padCrop: number;
  /** Random left-right flips. */
  flip: boolean;
}

/** One training report: the mean loss and training error (%) since the last report, and the speed. */
export interface TrainPoint {
  /** Iterations done (counting those before a resume). */
  iteration: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** The learning rate of the last iteration. */
  lr: number;
  /** Mean training loss since the last report. */
  loss: number;
  /** Training error (%) since the last report, on augmented images in train mode. */
  trainError: number;
  /** Training images per second since the last report. */
  imagesPerSecond: number;
}

/** One evaluation during a fit. */
export interface EvalPoint {
  /** The iteration it followed. */
  iteration: number;
  /** Top-1 error (%). */
  error: number;
  /** Mean cross-entropy. */
  loss: number;
}

/** The batch a fit trains on at one iteration, NCHW, with how each image was drawn (native code builds it). */
export interface TrainingBatch {
  /** Normalized, augmented images (NCHW float32). */
  input: Float32Array;
  /** The class of each image. */
  labels: Int32Array;
  /** Dataset index of each image. */
  index: Int32Array;
  /** Vertical crop offset (0..8) into the zero-padded 40×40 image. */
  dy: Int32Array;
  /** Horizontal crop offset (0..8) into the zero-padded 40×40 image. */
  dx: Int32Array;
  /** 1 where the crop is flipped horizontally. */
  flip: Uint8Array;
}

/** Plain data stored in checkpoint meta: what Python's torch.load(weights_only=True) reads back. */
export type MetaValue = string | number | boolean | null | MetaValue[] | { [key: string]: MetaValue };

/**
 * A normalization as checked and stored: per pixel (3,072 means of pixels / 255, std 1) or per channel (3 means,
 * 3 stds), in float32.
 */
export interface NormalizationValues {
  /** Per-pixel mean ('pixel') or per-channel mean and std ('channel'). */
  kind: 'pixel' | 'channel';
  /** C×H×W values (pixel: 3,072 for CIFAR) or C (channel), C = 3 or 1. */
  mean: Float32Array;
  /** C values (all 1 for pixel). */
  std: Float32Array;
  /** A per-pixel mean's [C, H, W] (always from the addon; optional going in, where a square size is assumed). */
  shape?: number[];
}

/** Data-parallel options resolved: this process's rank, the rendezvous and its bounds. */
export interface ResolvedDistributedOptions {
  /** This process's rank, 0 .. worldSize − 1. */
  rank: number;
  /** Processes in all. */
  worldSize: number;
  /** Rank 0's address. */
  masterAddr: string;
  /** Rank 0's port. */
  masterPort: number;
  /** torchrun's agent hosts the rendezvous store (TORCHELASTIC_USE_AGENT_STORE): rank 0 joins it as the others do. */
  agentStore: boolean;
  /** A silent rank fails the others after this long. */
  timeoutMs: number;
  /** BatchNorm statistics over the global batch. */
  syncBatchNorm: boolean;
}

/** A warm-up resolved: its learning rate, and when it ends. */
export interface ResolvedWarmup {
  /** The learning rate during warm-up. */
  lr: number;
  /** Warm-up ends after this many iterations. */
  iterations?: number;
  /** Or once a report's training error (%) is below this. */
  untilError?: number;
}

/** TrainerOptions with every default filled in and every value checked (Trainer.options), as the addon takes them. */
export interface ResolvedTrainerOptions {
  /** Total iterations; absent when the length is in epochs. */
  iterations?: number;
  /** Total passes over the training set; absent when the length is in iterations (each fit converts it: Trainer.schedule). */
  epochs?: number;
  /** Where the learning rate is multiplied by `gamma`, in the length's unit: iterations, or epochs with `epochs`. */
  milestones: number[];
  /** The learning rate's factor at each milestone. */
  gamma: number;
  /** The initial learning rate. */
  lr: number;
  /** SGD momentum. */
  momentum: number;
  /** L2 weight decay on every parameter. */
  weightDecay: number;
  /** Images per iteration (per rank when distributed). */
  batchSize: number;
  /** Fixes the data order and augmentation. */
  seed: number;
  /** Absent: no warm-up. */
  warmup?: ResolvedWarmup;
  /** A kind (its statistics are computed from the training set) or given statistics. */
  normalization: 'pixel' | 'channel' | NormalizationValues;
  /** Absent: the paper's pad-4 crop and flips. */
  augment?: Augmentation;
  /** Stages that do not train (no gradient, no weight decay, BatchNorm statistics fixed); absent: none. */
  freeze?: Stage[];
  /** Learning-rate multiples of stages (absent stages: 1). */
  lrScale?: Partial<Record<Stage, number>>;
  /** NHWC activations. */
  channelsLast: boolean;
  /** Fused train-mode BatchNorm + ReLU kernels on the CPU. */
  fusedBatchNorm: boolean;
  /** Compute precision. */
  precision: Precision;
  /** On CUDA (not distributed): capture the step as a CUDA graph and replay it. */
  cudaGraphs: boolean;
  /** Data-parallel training; absent: one process. */
  distributed?: ResolvedDistributedOptions;
}

/** What a checkpoint written by a fit holds of the fit: where it stopped, its settings and its history. */
export interface CheckpointTrainerState {
  /** The iteration it was written at. */
  iteration: number;
  /** The fit's total iterations. */
  iterations: number;
  /** The fit's seed. */
  seed: number;
  /** Images per iteration (per rank). */
  batchSize: number;
  /** Images in the training set. */
  trainSize: number;
  /** The precision the run trained at (weights are float32 either way). */
  precision: Precision;
  /** Ranks of a data-parallel run (batchSize is per rank). */
  worldSize: number;
  /** Every training report up to the checkpoint. */
  train: TrainPoint[];
  /** Every evaluation up to the checkpoint. */
  eval: EvalPoint[];
}
