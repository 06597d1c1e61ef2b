// The Trainer's public option, progress and history types (lib/train/trainer.ts runs them). Types only.
import type { ImageDataset } from '../data/image-dataset';
import type { Augmentation, EvalPoint, FitStop, Stage, MetaValue, TrainingBatch, TrainPoint } from '../base/types';
import type { Normalization } from '../base/normalization';
import type { Precision } from '../base/precision';
import type { Evaluation } from '../model/evaluation';

/** A learning-rate warm-up before the schedule starts (the paper's ResNet-110 uses one). */
export interface WarmupOptions {
  /** Learning rate during warm-up (the paper uses 0.01 for ResNet-110). */
  lr: number;
  /** Warm-up ends after this many iterations (the paper: about 400). */
  iterations?: number;
  /** Or as soon as a report window's training error (%) is below this (the paper: 80). */
  untilError?: number;
}

/** The training recipe: every field defaults to the paper's (RECIPE in lib/base/recipe.ts). */
export interface TrainerOptions {
  /** Total iterations (default RECIPE.iterations: 64,000). Not with `epochs`. */
  iterations?: number;
  /**
   * Or the length in passes over the training set, e.g. 30 (fractions allowed): each fit makes it iterations for its
   * training set, epochs × ⌈images / batchSize⌉ rounded, at least 1 (the images of each rank's shard when
   * distributed; Trainer.schedule says it). Not with `iterations`.
   */
  epochs?: number;
  /**
   * Where the learning rate is multiplied by `gamma`, in the length's unit: iterations (default [32000, 48000]), or
   * epochs when `epochs` is set (default 50 % and 75 % of them, the recipe's proportions).
   */
  milestones?: number[];
  /** Default 0.1. */
  gamma?: number;
  /** Default 0.1. */
  lr?: number;
  /** Default 0.9. */
  momentum?: number;
  /** Default 1e-4 (applied to every parameter, as in the paper and the PyTorch peer). */
  weightDecay?: number;
  /** Default 128. */
  batchSize?: number;
  /** Fixes the data order and augmentation (default 0): a CPU run with the same seed is reproducible. */
  seed?: number;
  /** Optional warm-up, e.g. `{ lr: 0.01, iterations: 400 }` or `{ lr: 0.01, untilError: 80 }` for ResNet-110. */
  warmup?: WarmupOptions;
  /**
   * Training-time augmentation (default the paper's: `{ padCrop: 4, flip: true }`): zero-pad by `padCrop` and crop
   * back at a random offset (0: none), random left-right flips (`flip: false` for digits and text).
   */
  augment?: Partial<Augmentation>;
  /**
   * Fine-tuning: stages that do not train ('backbone': every stage but the head 'fc'): no gradient, no weight decay,
   * BatchNorm statistics fixed.
   */
  freeze?: 'backbone' | Stage[];
  /** Fine-tuning: learning-rate multiples by stage, e.g. `{ stem: 0.1, block1: 0.1 }` (absent stages: 1). */
  lrScale?: Partial<Record<Stage, number>>;
  /**
   * Input normalization: 'pixel' (default, the paper's per-pixel mean of the training set), 'channel' (per-channel
   * mean/std of the training set) or explicit statistics. It is stored in checkpoints and used by evaluate.
   */
  normalization?: 'pixel' | 'channel' | Normalization;
  /** NHWC activations, faster on CPU (oneDNN) and on recent GPUs (default true). */
  channelsLast?: boolean;
  /**
   * On the CPU with channelsLast, run train-mode BatchNorm + ReLU (+ the shortcut add) as one fused kernel
   * (default true): fewer passes over memory, and closer to a float64 computation than PyTorch's float32 kernels,
   * but not bit-identical to PyTorch. false runs libtorch's own kernels, which match PyTorch 2.13 bit for bit.
   */
  fusedBatchNorm?: boolean;
  /**
   * 'fp32' (default) or 'bf16': convolutions and matmuls in bfloat16 (AMX or AVX512-BF16 on CPUs that have them;
   * the fused BatchNorm + ReLU kernels then run on bfloat16 activations), with float32 master weights, momentum,
   * BatchNorm statistics, loss and weight decay, as PyTorch's autocast. On CUDA also 'tf32': float32 with
   * TensorFloat-32 tensor-core rounding inside convolutions and matmuls ('fp32' switches it off). Checkpoints stay
   * float32 and work with every precision.
   */
  precision?: Precision;
  /**
   * On a CUDA device: after three eager steps, capture the whole training step (forward, loss, backward, SGD with
   * the learning rate as a device tensor) once as a CUDA graph and replay it each iteration; the last, smaller
   * batch of an epoch runs eagerly (default true). Not with `distributed`; ignored on the CPU.
   */
  cudaGraphs?: boolean;
  /**
   * Data-parallel training over processes (and machines) on c10d: NCCL when the model is on a CUDA device and the
   * build has it (each rank on its own GPU), otherwise Gloo over the CPU. This process is `rank` of
   * `worldSize`. `batchSize` is per rank (the global batch is worldSize × batchSize); every rank trains on its shard
   * of each epoch, gradients are averaged each step, rank 0 writes checkpoints. `true` (or an object without rank
   * and worldSize) reads torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
   */
  distributed?: DistributedOptions | true;
}

/** Data-parallel training's ranks and rendezvous. */
export interface DistributedOptions {
  /** With worldSize; both omitted: torchrun's RANK and WORLD_SIZE (and MASTER_ADDR, MASTER_PORT when set). */
  rank?: number;
  /** Processes in all, with rank. */
  worldSize?: number;
  /** Rank 0's address, where the others meet it (default 127.0.0.1). */
  masterAddr?: string;
  /** Default 29500. */
  masterPort?: number;
  /** A rank silent this long fails the others with an error naming it (default 60,000 ms). */
  timeoutMs?: number;
  /**
   * Train-mode BatchNorm statistics over every rank's batch together, as one process training on the global batch
   * (PyTorch's SyncBatchNorm); default false: each rank's own batch, as DistributedDataParallel does. Costs two
   * small all-reduces per BatchNorm layer and step, and takes libtorch ops instead of the fused BN + ReLU kernels.
   */
  syncBatchNorm?: boolean;
}

/** Where a fit writes its checkpoint, how often, and whether it resumes one. */
export interface CheckpointOptions {
  /** Folder for the checkpoint file, CHECKPOINT_FILE (created if missing). */
  dir: string;
  /** Also write one every this many iterations (default: only at the end and on abort). */
  every?: number;
  /** Continue from dir/checkpoint.pt when it exists: weights, momentum, iteration, data order, history. */
  resume?: boolean;
}

/** A training report during a fit. */
export interface TrainProgress {
  /** What this report is. */
  kind: 'train';
  /** Iterations done (counting those before a resume). */
  iteration: number;
  /** The fit's total iterations. */
  iterations: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** The learning rate of the last iteration. */
  lr: number;
  /** Mean training loss over the iterations since the last report. */
  loss: number;
  /** Training error (%) over the iterations since the last report (on augmented images, train-mode BN). */
  trainError: number;
  /** Training images per second since the last report (all ranks together). */
  imagesPerSecond: number;
  /** Seconds since this fit started. */
  elapsed: number;
  /** Estimated seconds to the end, from the current speed. */
  eta: number;
}

/** An evaluation during a fit. */
export interface EvalProgress extends Evaluation {
  /** What this report is. */
  kind: 'eval';
  /** The iteration it followed. */
  iteration: number;
}

/** A checkpoint a fit wrote. */
export interface CheckpointProgress {
  /** What this report is. */
  kind: 'checkpoint';
  /** The iteration it holds. */
  iteration: number;
  /** The file written. */
  path: string;
}

/** What onProgress receives during a fit. */
export type FitProgress = TrainProgress | EvalProgress | CheckpointProgress;

/** What one fit evaluates, reports, writes and listens to. */
export interface FitOptions {
  /** Evaluated every `evalEvery` iterations and at the end. */
  eval?: ImageDataset;
  /** Default: only at the end. */
  evalEvery?: number;
  /** Default EVAL_BATCH_SIZE (500, lib/base/recipe.ts). */
  evalBatchSize?: number;
  /** Training progress is reported every this many iterations (default 10). */
  reportEvery?: number;
  /** Aborting stops within one iteration, writes a checkpoint (if `checkpoint` is set) and resolves. */
  signal?: AbortSignal;
  /** Called on the main thread for each report, evaluation and checkpoint; a throw stops the fit, which rejects with it. */
  onProgress?: (e: FitProgress) => void;
  /** Where to write the checkpoint (and resume from); default none. */
  checkpoint?: CheckpointOptions;
  /** Extra plain data stored in each checkpoint's meta. */
  meta?: Record<string, MetaValue>;
  /**
   * TensorBoard event files are written into this folder (`tensorboard --logdir` over it or its parent): training
   * loss and error, learning rate and images/s at every report, evaluation error and loss, the configuration as text.
   */
  logDir?: string;
  /** Benchmarking only: train on one fixed batch, with no data work. */
  stepOnly?: boolean;
}

export type { EvalPoint, FitStop, TrainingBatch, TrainPoint };

/** What a fit did: how far it went, why it stopped, its reports and evaluations. */
export interface History {
  /** Iterations completed (counting those before a resume). */
  iterations: number;
  /** Where this fit started (0, or the resumed checkpoint's iteration). */
  startIteration: number;
  /** Why it ended: its last iteration or an abort. */
  stopped: Exclude<FitStop, 'nan'>;
  /** This fit's wall time (evaluations and checkpoints included). */
  seconds: number;
  /** The checkpoint last written, if any. */
  checkpoint: string | null;
  /** Every training report (those before a resume too). */
  train: TrainPoint[];
  /** Every evaluation (those before a resume too). */
  eval: EvalPoint[];
  /** The normalization the fit trained with (now the model's own). */
  normalization: Normalization;
  /** What to know about the run, e.g. that it resumed a checkpoint trained at another precision. */
  notes: string[];
}
