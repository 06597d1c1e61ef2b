// The paper's training recipe (He et al. 2016, section 4.2) as a Trainer whose loop runs in C++ on a native thread.
// Its option and progress types are in fit-types.ts, the recipe's defaults in recipe.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type MetaValue, type NativeFitEvent, type NativeFitHandle, type NativeFitOptions } from './native';
import { Cifar10 } from './cifar10';
import { CHECKPOINT_FILE } from './checkpoint';
import { checkDistributed } from './distributed';
import { summarizeEvaluation } from './evaluation';
import { TensorBoardLog } from './fit-log';
import type { FitProgress, History, TrainerOptions, FitOptions, TrainingBatch } from './fit-types';
import { fromNative, toNative, type Normalization } from './normalization';
import { checkPrecision, precisionNote, type Precision } from './precision';
import { EVAL_BATCH_SIZE, RECIPE, REPORT_EVERY } from './recipe';
import { ResNet } from './resnet';
import * as v from './validate';

export type {
  CheckpointOptions, CheckpointProgress, DistributedOptions, EvalPoint, EvalProgress, FitOptions, FitProgress, FitStop, History,
  TrainerOptions, TrainingBatch, TrainPoint, TrainProgress, WarmupOptions,
} from './fit-types';
export { checkDistributed } from './distributed';

const TRAINER_KEYS = ['iterations', 'milestones', 'gamma', 'lr', 'momentum', 'weightDecay', 'batchSize', 'seed',
  'warmup', 'normalization', 'channelsLast', 'fusedBatchNorm', 'precision', 'cudaGraphs', 'distributed'];
const FIT_KEYS = ['eval', 'evalEvery', 'evalBatchSize', 'reportEvery', 'signal', 'onProgress', 'checkpoint', 'meta',
  'stepOnly', 'logDir'];

/** Checked distributed options, as the addon takes them; `true` takes torchrun's environment. */

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
    const iterations = v.integer('iterations', o.iterations ?? RECIPE.iterations, 1, 1e9);
    const ms = o.milestones ?? RECIPE.milestones;
    if (!Array.isArray(ms)) throw v.expected('milestones to be an array of iterations', ms);
    ms.forEach((m, i) => {
      v.integer(`milestones[${i}]`, m, 1, 1e9);
      if (i > 0 && m <= ms[i - 1]) {
        throw new RangeError(`Expected milestones in increasing order but received [${ms.join(', ')}]`);
      }
    });
    const momentum = o.momentum ?? RECIPE.momentum;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) {
      throw v.expected('momentum in [0, 1)', momentum, typeof momentum === 'number' ? RangeError : TypeError);
    }
    const weightDecay = o.weightDecay ?? RECIPE.weightDecay;
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
    const norm = o.normalization ?? RECIPE.normalization;
    if (norm !== 'pixel' && norm !== 'channel') toNative(norm);
    const channelsLast = v.boolean('channelsLast', o.channelsLast ?? true);
    const fusedBatchNorm = v.boolean('fusedBatchNorm', o.fusedBatchNorm ?? true);
    this.model = model;
    this.options = Object.freeze({
      iterations,
      milestones: [...(ms as number[])],
      gamma: positive('gamma', o.gamma ?? RECIPE.gamma),
      lr: positive('lr', o.lr ?? RECIPE.lr),
      momentum,
      weightDecay,
      batchSize: v.integer('batchSize', o.batchSize ?? RECIPE.batchSize, 1, 50_000),
      seed: v.integer('seed', o.seed ?? RECIPE.seed, 0, 2 ** 53 - 1),
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
    const evalBatchSize = v.integer('evalBatchSize', o.evalBatchSize ?? EVAL_BATCH_SIZE, 1, 100_000);
    const reportEvery = v.integer('reportEvery', o.reportEvery ?? REPORT_EVERY, 1);
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
      // eslint-disable-next-line prefer-const -- assigned once, below, but onEvent closes over it before that
      let handle: NativeFitHandle | undefined;
      const board = logDir !== undefined && (this.options.distributed?.rank ?? 0) === 0 ? new TensorBoardLog(logDir, { model: this.model.config, trainer: this.options }, evalData?.split ?? 'eval') : undefined;
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
      reportEvery: REPORT_EVERY,
      evalEvery: 0,
      evalBatchSize: EVAL_BATCH_SIZE,
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

