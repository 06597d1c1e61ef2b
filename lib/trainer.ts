// The paper's training recipe (He et al. 2016, section 4.2) as a Trainer whose loop runs in C++ on a native thread.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TensorBoardWriter } from './tensorboard';
import {
  native, type MetaValue, type NativeEvalPoint, type NativeFitEvent, type NativeFitHandle, type NativeFitOptions,
  type NativeTrainPoint, type NativeTrainingBatch,
} from './native';
import { Cifar10 } from './cifar10';
import { CHECKPOINT_FILE } from './checkpoint';
import { fromNative, toNative, type Normalization } from './normalization';
import { checkPrecision, precisionNote, type Precision } from './precision';
import { ResNet, summarizeEvaluation, type Evaluation } from './resnet';
import * as v from './validate';

export interface WarmupOptions {
  /** Learning rate during warm-up (the paper uses 0.01 for ResNet-110). */
  lr: number;
  /** Warm-up ends after this many iterations (the paper: about 400). */
  iterations?: number;
  /** Or as soon as a report window's training error (%) is below this (the paper: 80). */
  untilError?: number;
}

export interface TrainerOptions {
  /** Total iterations (default 64,000). */
  iterations?: number;
  /** Iterations at which the learning rate is multiplied by `gamma` (default [32000, 48000]). */
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
  /** Optional warm-up, e.g. { lr: 0.01, iterations: 400 } or { lr: 0.01, untilError: 80 } for ResNet-110. */
  warmup?: WarmupOptions;
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

export interface DistributedOptions {
  /** With worldSize; both omitted: torchrun's RANK and WORLD_SIZE (and MASTER_ADDR, MASTER_PORT when set). */
  rank?: number;
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

export interface CheckpointOptions {
  /** Folder for the checkpoint file, CHECKPOINT_FILE (created if missing). */
  dir: string;
  /** Also write one every this many iterations (default: only at the end and on abort). */
  every?: number;
  /** Continue from dir/checkpoint.pt when it exists: weights, momentum, iteration, data order, history. */
  resume?: boolean;
}

export interface TrainProgress {
  kind: 'train';
  iteration: number;
  iterations: number;
  epoch: number;
  lr: number;
  /** Mean training loss over the iterations since the last report. */
  loss: number;
  /** Training error (%) over the iterations since the last report (on augmented images, train-mode BN). */
  trainError: number;
  imagesPerSecond: number;
  /** Seconds since this fit started. */
  elapsed: number;
  /** Estimated seconds to the end, from the current speed. */
  eta: number;
}

export interface EvalProgress extends Evaluation {
  kind: 'eval';
  iteration: number;
}

export interface CheckpointProgress {
  kind: 'checkpoint';
  iteration: number;
  path: string;
}

export type FitProgress = TrainProgress | EvalProgress | CheckpointProgress;

export interface FitOptions {
  /** Evaluated every `evalEvery` iterations and at the end. */
  eval?: Cifar10;
  /** Default: only at the end. */
  evalEvery?: number;
  /** Default 500. */
  evalBatchSize?: number;
  /** Training progress is reported every this many iterations (default 10). */
  reportEvery?: number;
  /** Aborting stops within one iteration, writes a checkpoint (if `checkpoint` is set) and resolves. */
  signal?: AbortSignal;
  onProgress?: (e: FitProgress) => void;
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

/** One report: iteration, epoch, lr, mean loss and training error (%) since the last report, images/s. */
export type TrainPoint = NativeTrainPoint;

/** The batch a fit trains on at one iteration, NCHW, with how each image was drawn (native code builds it). */
export type TrainingBatch = NativeTrainingBatch;

export type EvalPoint = NativeEvalPoint;

export interface History {
  /** Iterations completed (counting those before a resume). */
  iterations: number;
  /** Where this fit started (0, or the resumed checkpoint's iteration). */
  startIteration: number;
  stopped: 'completed' | 'aborted';
  seconds: number;
  /** The checkpoint last written, if any. */
  checkpoint: string | null;
  train: TrainPoint[];
  eval: EvalPoint[];
  normalization: Normalization;
  /** What to know about the run, e.g. that it resumed a checkpoint trained at another precision. */
  notes: string[];
}

const TRAINER_KEYS = ['iterations', 'milestones', 'gamma', 'lr', 'momentum', 'weightDecay', 'batchSize', 'seed',
  'warmup', 'normalization', 'channelsLast', 'fusedBatchNorm', 'precision', 'cudaGraphs', 'distributed'];
const FIT_KEYS = ['eval', 'evalEvery', 'evalBatchSize', 'reportEvery', 'signal', 'onProgress', 'checkpoint', 'meta',
  'stepOnly', 'logDir'];

/** Checked distributed options, as the addon takes them; `true` takes torchrun's environment. */
export function checkDistributed(d: unknown): NonNullable<NativeFitOptions['distributed']> {
  if (native().info().distributed.length === 0) {
    throw new Error('Distributed training needs a build with c10d\'s Gloo backend: install libgloo-dev (Debian/Ubuntu) ' +
      'and rebuild (npm run build:native); info().distributed lists the backends a build has');
  }
  let o: Record<string, unknown> = d === true ? {} : v.checkKeys('distributed', d, ['rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutMs', 'syncBatchNorm']);
  const env = process.env;
  const fromEnv = o.rank === undefined && o.worldSize === undefined;
  if (fromEnv) {
    for (const k of ['RANK', 'WORLD_SIZE']) {
      if (env[k] === undefined) throw new Error(`Expected the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) for distributed without rank and worldSize, but ${k} is not set`);
    }
    o = { ...o, rank: Number(env.RANK), worldSize: Number(env.WORLD_SIZE),
      masterAddr: o.masterAddr ?? env.MASTER_ADDR, masterPort: o.masterPort ?? (env.MASTER_PORT === undefined ? undefined : Number(env.MASTER_PORT)) };
  }
  const worldSize = v.integer('distributed.worldSize', o.worldSize, 1, 65_536);
  return {
    worldSize,
    rank: v.integer('distributed.rank', o.rank, 0, worldSize - 1),
    masterAddr: o.masterAddr === undefined ? '127.0.0.1' : v.nonEmptyString('distributed.masterAddr', o.masterAddr),
    masterPort: v.integer('distributed.masterPort', o.masterPort ?? 29500, 1, 65_535),
    // torchrun (2.x) hosts the store in its agent and says so; PyTorch's workers then all join it as clients.
    agentStore: fromEnv && env.TORCHELASTIC_USE_AGENT_STORE === 'True',
    timeoutMs: v.integer('distributed.timeoutMs', o.timeoutMs ?? 60_000, 1000, 86_400_000),
    syncBatchNorm: v.boolean('distributed.syncBatchNorm', o.syncBatchNorm ?? false),
  };
}

function positive(name: string, x: unknown, max = Infinity): number {
  if (typeof x !== 'number') throw v.expected(`${name} to be a number`, x);
  if (!Number.isFinite(x) || x <= 0 || x > max) throw v.expected(`${name} to be a positive finite number`, x, RangeError);
  return x;
}

interface ResolvedOptions {
  iterations: number;
  milestones: number[];
  gamma: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  seed: number;
  warmup: { lr: number; iterations: number; untilError: number } | undefined;
  normalization: 'pixel' | 'channel' | Normalization;
  channelsLast: boolean;
  fusedBatchNorm: boolean;
  precision: Precision;
  cudaGraphs: boolean;
  distributed: NativeFitOptions['distributed'];
}

let exitHook = false;
/**
 * process.exit() while a fit runs would let exit() destroy libtorch's static state under the training thread:
 * on Node's 'exit' event (before that), every fit is stopped, with its checkpoint written.
 */
function stopOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => native().stopAllFits());
}

export class Trainer {
  readonly model: ResNet;
  readonly options: Readonly<ResolvedOptions>;
  #running = false;

  constructor(model: ResNet, options: TrainerOptions = {}) {
    if (!(model instanceof ResNet)) throw v.expected('a ResNet', model);
    const o = v.checkKeys('Trainer', options, TRAINER_KEYS);
    const iterations = v.integer('iterations', o.iterations ?? 64_000, 1, 1e9);
    const ms = o.milestones ?? [32_000, 48_000];
    if (!Array.isArray(ms)) throw v.expected('milestones to be an array of iterations', ms);
    ms.forEach((m, i) => {
      v.integer(`milestones[${i}]`, m, 1, 1e9);
      if (i > 0 && m <= ms[i - 1]) {
        throw new RangeError(`Expected milestones in increasing order but received [${ms.join(', ')}]`);
      }
    });
    const momentum = o.momentum ?? 0.9;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) {
      throw v.expected('momentum in [0, 1)', momentum, typeof momentum === 'number' ? RangeError : TypeError);
    }
    const weightDecay = o.weightDecay ?? 1e-4;
    if (typeof weightDecay !== 'number' || !(weightDecay >= 0 && Number.isFinite(weightDecay))) {
      throw v.expected('weightDecay >= 0', weightDecay, typeof weightDecay === 'number' ? RangeError : TypeError);
    }
    let warmup: ResolvedOptions['warmup'];
    if (o.warmup !== undefined) {
      const w = v.checkKeys('warmup', o.warmup, ['lr', 'iterations', 'untilError']);
      if (w.iterations === undefined && w.untilError === undefined) {
        throw new TypeError('Expected warmup to set iterations or untilError (e.g. { lr: 0.01, iterations: 400 })');
      }
      warmup = {
        lr: positive('warmup.lr', w.lr),
        iterations: w.iterations === undefined ? 0 : v.integer('warmup.iterations', w.iterations, 1, 1e9),
        untilError: w.untilError === undefined ? -1 : positive('warmup.untilError', w.untilError, 100),
      };
    }
    const norm = o.normalization ?? 'pixel';
    if (norm !== 'pixel' && norm !== 'channel') toNative(norm);
    const channelsLast = v.boolean('channelsLast', o.channelsLast ?? true);
    const fusedBatchNorm = v.boolean('fusedBatchNorm', o.fusedBatchNorm ?? true);
    this.model = model;
    this.options = Object.freeze({
      iterations,
      milestones: [...(ms as number[])],
      gamma: positive('gamma', o.gamma ?? 0.1),
      lr: positive('lr', o.lr ?? 0.1),
      momentum,
      weightDecay,
      batchSize: v.integer('batchSize', o.batchSize ?? 128, 1, 50_000),
      seed: v.integer('seed', o.seed ?? 0, 0, 2 ** 53 - 1),
      warmup,
      normalization: norm as ResolvedOptions['normalization'],
      channelsLast,
      fusedBatchNorm,
      precision: checkPrecision('precision', o.precision ?? 'fp32', model.device),
      cudaGraphs: v.boolean('cudaGraphs', o.cudaGraphs ?? true),
      distributed: o.distributed === undefined ? undefined : checkDistributed(o.distributed),
    });
  }

  /**
   * Trains `model` on `train` until `iterations` (or an abort), on a native thread. Resolves with the history;
   * rejects on a NaN/inf loss (the last good checkpoint is kept) or any other failure.
   */
  async fit(train: Cifar10, options: FitOptions = {}): Promise<History> {
    if (!(train instanceof Cifar10)) throw v.expected('a Cifar10 training set', train);
    const o = v.checkKeys('fit', options, FIT_KEYS);
    if (o.eval !== undefined && !(o.eval instanceof Cifar10)) throw v.expected('eval to be a Cifar10 dataset', o.eval);
    const evalData = o.eval as Cifar10 | undefined;
    const evalEvery = o.evalEvery === undefined ? 0 : v.integer('evalEvery', o.evalEvery, 1);
    const evalBatchSize = v.integer('evalBatchSize', o.evalBatchSize ?? 500, 1, 100_000);
    const reportEvery = v.integer('reportEvery', o.reportEvery ?? 10, 1);
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
      throw v.expected('signal to be an AbortSignal', signal);
    }
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw v.expected('onProgress to be a function', o.onProgress);
    const onProgress = o.onProgress as ((e: FitProgress) => void) | undefined;
    let checkpointDir = '';
    let checkpointEvery = 0;
    let resume = false;
    if (o.checkpoint !== undefined) {
      const c = v.checkKeys('checkpoint', o.checkpoint, ['dir', 'every', 'resume']);
      checkpointDir = path.resolve(v.nonEmptyString('checkpoint.dir', c.dir));
      checkpointEvery = c.every === undefined ? 0 : v.integer('checkpoint.every', c.every, 1);
      if (c.resume !== undefined) v.boolean('checkpoint.resume', c.resume);
      resume = c.resume === true;
    }
    const meta = v.meta('meta', o.meta) as Record<string, MetaValue> | undefined;
    if (o.stepOnly !== undefined) v.boolean('stepOnly', o.stepOnly);
    const logDir = o.logDir === undefined ? undefined : path.resolve(v.nonEmptyString('logDir', o.logDir));
    const model = this.model.nativeModel;
    const classes = train.classes.length;
    if (model.config().numClasses !== classes) {
      throw new RangeError(`Expected a model with ${classes} classes for this dataset but it has ${model.config().numClasses}`);
    }
    if (this.options.batchSize > train.length) {
      throw new RangeError(`Expected batchSize <= the training set's ${train.length} images but received ${this.options.batchSize}`);
    }
    if (this.#running) throw new Error('This Trainer is already running a fit');
    this.#running = true;
    try {
      // Rank 0 alone writes (and resumes) checkpoints; the other ranks take its state, so they make no folder.
      if (checkpointDir && (this.options.distributed?.rank ?? 0) === 0) fs.mkdirSync(checkpointDir, { recursive: true });
      const note = precisionNote(this.options.precision, model.device());
      let callbackError: unknown;
      let handle: NativeFitHandle | undefined;
      const board = logDir !== undefined && (this.options.distributed?.rank ?? 0) === 0 ? new TensorBoardLog(logDir, this, evalData?.split ?? 'eval') : undefined;
      const onEvent = (e: NativeFitEvent) => {
        if ((!onProgress && !board) || callbackError !== undefined) return;
        try {
          const p = this.#progress(e, train);
          board?.log(p);
          onProgress?.(p);
        } catch (err) {
          callbackError = err; // a throwing callback stops the fit; the error is what fit rejects with
          handle?.abort();
        }
      };
      stopOnExit();
      handle = native().fit(model, train.nativeDataset, evalData?.nativeDataset ?? null, this.#nativeOptions({
        reportEvery,
        evalEvery,
        evalBatchSize,
        checkpointPath: checkpointDir ? path.join(checkpointDir, CHECKPOINT_FILE) : '',
        checkpointEvery,
        resume,
        stepOnly: o.stepOnly === true,
        meta,
      }), onEvent);
      const abort = () => handle?.abort();
      if (signal?.aborted) abort();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        const r = await handle.promise;
        if (callbackError !== undefined) throw callbackError;
        return {
          iterations: r.iteration,
          startIteration: r.startIteration,
          stopped: r.stopped,
          seconds: r.seconds,
          checkpoint: r.checkpoint,
          train: r.train,
          eval: r.eval,
          normalization: fromNative(r.normalization!),
          notes: [...(note ? [note] : []), ...r.notes],
        };
      } finally {
        signal?.removeEventListener('abort', abort);
        board?.close();
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * The augmented, normalized batch that `fit(train)` trains on at `iteration` (0-based), with the dataset index,
   * crop offsets (into the 40×40 zero-padded image) and flip of each image.
   */
  async trainingBatch(train: Cifar10, iteration: number): Promise<TrainingBatch> {
    if (!(train instanceof Cifar10)) throw v.expected('a Cifar10 training set', train);
    v.integer('iteration', iteration, 0);
    if (this.options.batchSize > train.length) {
      throw new RangeError(`Expected batchSize <= the training set's ${train.length} images but received ${this.options.batchSize}`);
    }
    return native().trainingBatch(train.nativeDataset, this.#nativeOptions({}), iteration);
  }

  #nativeOptions(fit: Partial<NativeFitOptions>): NativeFitOptions {
    const opts = this.options;
    return {
      iterations: opts.iterations,
      batchSize: opts.batchSize,
      lr: opts.lr,
      momentum: opts.momentum,
      weightDecay: opts.weightDecay,
      milestones: opts.milestones,
      gamma: opts.gamma,
      warmupLr: opts.warmup?.lr ?? 0,
      warmupIterations: opts.warmup?.iterations ?? 0,
      warmupUntilError: opts.warmup?.untilError ?? -1,
      seed: opts.seed,
      reportEvery: 10,
      evalEvery: 0,
      evalBatchSize: 500,
      checkpointPath: '',
      checkpointEvery: 0,
      resume: false,
      channelsLast: opts.channelsLast,
      fusedBatchNorm: opts.fusedBatchNorm,
      cudaGraphs: opts.cudaGraphs,
      precision: opts.precision,
      distributed: opts.distributed,
      stepOnly: false,
      // A kind is computed natively from the training set; explicit statistics go as they are.
      normalization: typeof opts.normalization === 'string' ? opts.normalization : toNative(opts.normalization),
      ...fit,
    };
  }

  #progress(e: NativeFitEvent, train: Cifar10): FitProgress {
    const iterations = this.options.iterations;
    if (e.kind === 'train') {
      const { kind, iteration, epoch, lr, loss, trainError, imagesPerSecond, elapsed } = e;
      const globalBatch = this.options.batchSize * (this.options.distributed?.worldSize ?? 1);
      const eta = imagesPerSecond > 0 ? ((iterations - iteration) * globalBatch) / imagesPerSecond : 0;
      return { kind, iteration, iterations, epoch, lr, loss, trainError, imagesPerSecond, elapsed, eta };
    }
    if (e.kind === 'eval') return { kind: 'eval', iteration: e.iteration, ...summarizeEvaluation(e, train.classes) };
    return { kind: 'checkpoint', iteration: e.iteration, path: e.path };
  }
}

/**
 * A fit's progress as TensorBoard scalars (loss/train, error/train, lr, images_per_second; error/<split> and
 * loss/<split> of the evaluation set, test or validation); the first event marks the (re)start, so a resumed run
 * replaces what its earlier life logged past the checkpoint.
 */
class TensorBoardLog {
  #writer: TensorBoardWriter;
  #trainer: Trainer;
  #evalSplit: string;
  #started = false;

  constructor(dir: string, trainer: Trainer, evalSplit: string) {
    this.#writer = new TensorBoardWriter(dir);
    this.#trainer = trainer;
    this.#evalSplit = evalSplit;
  }

  log(p: FitProgress): void {
    if (!this.#started) {
      this.#started = true;
      this.#writer.start(p.iteration);
      const config = { model: this.#trainer.model.config, trainer: this.#trainer.options };
      this.#writer.text(p.iteration, 'config', '```json\n' + JSON.stringify(config, null, 2) + '\n```');
    }
    if (p.kind === 'train') {
      this.#writer.scalars(p.iteration, {
        'loss/train': p.loss, 'error/train': p.trainError, lr: p.lr, images_per_second: p.imagesPerSecond,
      });
    } else if (p.kind === 'eval') {
      this.#writer.scalars(p.iteration, { [`error/${this.#evalSplit}`]: p.error, [`loss/${this.#evalSplit}`]: p.loss });
    }
  }

  close(): void {
    this.#writer.close();
  }
}
