// The paper's training recipe (He et al. 2016, section 4.2) as a Trainer whose loop runs in C++ on a native thread.
// Its option and progress types are in fit-types.ts, the recipe's defaults in recipe.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type MetaValue, type NativeFitEvent, type NativeFitHandle, type NativeFitOptions } from '../base/native';
import { ImageDataset } from '../data/image-dataset';
import { CIFAR10_CLASSES } from '../data/cifar10';
import { CHECKPOINT_FILE } from '../io/checkpoint';
import { summarizeEvaluation } from '../model/evaluation';
import { TensorBoardLog } from './fit-log';
import { MAX_BATCH } from '../model/inference';
import { checkClasses, checkInput } from '../model/model-checks';
import type { FitProgress, History, TrainerOptions, FitOptions, TrainingBatch } from './fit-types';
import { fromNative, normalizationMismatch } from '../base/normalization';
import { precisionNote } from '../base/precision';
import { EVAL_BATCH_SIZE, REPORT_EVERY } from '../base/recipe';
import { resolveTrainerOptions, scheduleFor, type ResolvedTrainerOptions, type Schedule } from './trainer-options';
import { CLASS_NAMES_KEY, ResNet } from '../model/resnet';
import * as v from '../base/validate';

export type { Schedule } from './trainer-options';
export type {
  CheckpointOptions, CheckpointProgress, DistributedOptions, EvalPoint, EvalProgress, FitOptions, FitProgress, FitStop, History,
  TrainerOptions, TrainingBatch, TrainPoint, TrainProgress, WarmupOptions,
} from './fit-types';
export { checkDistributed } from './distributed';

const FIT_KEYS = ['eval', 'evalEvery', 'evalBatchSize', 'reportEvery', 'signal', 'onProgress', 'checkpoint', 'meta',
  'stepOnly', 'logDir'];

const DATASET = 'an ImageDataset (Cifar10, ImageDataset.fromArrays, loadIdx, …)';

const shapeOf = (d: ImageDataset) => [d.shape.channels, d.shape.height, d.shape.width];

/**
 * The fit's meta with the training set's class names under class_names (so that they travel with the checkpoint to
 * ResNet.load, predict's callers and ONNX), unless they are CIFAR-10's or the user's meta names them itself.
 */
function withClassNames(meta: Record<string, MetaValue> | undefined, classes: readonly string[]): Record<string, MetaValue> | undefined {
  const cifar = classes.length === CIFAR10_CLASSES.length && classes.every((c, i) => c === CIFAR10_CLASSES[i]);
  if (cifar || meta?.[CLASS_NAMES_KEY] !== undefined) return meta;
  return { ...meta, [CLASS_NAMES_KEY]: [...classes] };
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

/** The paper's training recipe for one ResNet: SGD with momentum, weight decay and a step schedule, run by native code on its own thread. */
export class Trainer {
  /** The network it trains. */
  readonly model: ResNet;
  /** The options resolved: every default filled in, every value checked; the addon takes them as they are. */
  readonly options: Readonly<ResolvedTrainerOptions>;
  #running = false;

  constructor(model: ResNet, options: TrainerOptions = {}) {
    if (!(model instanceof ResNet)) throw v.expected('a ResNet', model);
    this.model = model;
    this.options = Object.freeze(resolveTrainerOptions(options, model.device));
  }

  /**
   * Trains `model` on `train` until `iterations` (or an abort), on a native thread. Resolves with the history;
   * rejects on a NaN/inf loss (the last good checkpoint is kept) or any other failure.
   */
  async fit(train: ImageDataset, options: FitOptions = {}): Promise<History> {
    if (!(train instanceof ImageDataset)) throw v.expected(DATASET, train);
    const o = v.checkKeys('fit', options, FIT_KEYS);
    if (o.eval !== undefined && !(o.eval instanceof ImageDataset)) throw v.expected(`eval to be ${DATASET}`, o.eval);
    const evalData = o.eval as ImageDataset | undefined;
    const evalEvery = o.evalEvery === undefined ? undefined : v.integer('evalEvery', o.evalEvery, 1);
    const evalBatchSize = v.integer('evalBatchSize', o.evalBatchSize ?? EVAL_BATCH_SIZE, 1, MAX_BATCH);
    const reportEvery = v.integer('reportEvery', o.reportEvery ?? REPORT_EVERY, 1);
    const signal = v.abortSignal('signal', o.signal);
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw v.expected('onProgress to be a function', o.onProgress);
    const onProgress = o.onProgress as ((e: FitProgress) => void) | undefined;
    let checkpointDir: string | undefined;
    let checkpointEvery: number | undefined;
    let resume: boolean | undefined;
    if (o.checkpoint !== undefined) {
      const c = v.checkKeys('checkpoint', o.checkpoint, ['dir', 'every', 'resume']);
      checkpointDir = path.resolve(v.nonEmptyString('checkpoint.dir', c.dir));
      checkpointEvery = c.every === undefined ? undefined : v.integer('checkpoint.every', c.every, 1);
      resume = c.resume === undefined ? undefined : v.boolean('checkpoint.resume', c.resume);
    }
    const meta = withClassNames(v.meta('meta', o.meta) as Record<string, MetaValue> | undefined, train.classes);
    const stepOnly = o.stepOnly === undefined ? undefined : v.boolean('stepOnly', o.stepOnly);
    const logDir = o.logDir === undefined ? undefined : path.resolve(v.nonEmptyString('logDir', o.logDir));
    const model = this.model.nativeModel;
    this.#checkData(train, true);
    if (evalData) this.#checkEvalData(train, evalData);
    // Grey images for a colour network: their channel three times (made once per dataset).
    const channels = this.model.config.inChannels;
    const [trainImages, evalImages] = await Promise.all([train.nativeFor(channels), evalData?.nativeFor(channels)]);
    if (this.#running) throw new Error('This Trainer is already running a fit');
    const schedule = scheduleFor(this.options, train.length); // once: each progress report reads its length
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
          const p = this.#progress(e, train, schedule.iterations);
          board?.log(p);
          onProgress?.(p);
        } catch (err) {
          callbackError = err; // a throwing callback stops the fit; the error is what fit rejects with
          handle?.abort();
        }
      };
      stopOnExit();
      handle = native().fit(model, trainImages, evalImages ?? null, this.#nativeOptions(schedule, {
        reportEvery,
        evalEvery,
        evalBatchSize,
        checkpointPath: checkpointDir && path.join(checkpointDir, CHECKPOINT_FILE),
        checkpointEvery,
        resume,
        stepOnly,
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
  async trainingBatch(train: ImageDataset, iteration: number): Promise<TrainingBatch> {
    if (!(train instanceof ImageDataset)) throw v.expected(DATASET, train);
    v.integer('iteration', iteration, 0);
    this.#checkData(train);
    return native().trainingBatch(await train.nativeFor(this.model.config.inChannels), this.#nativeOptions(scheduleFor(this.options, train.length), {}), iteration);
  }

  /**
   * The length and learning-rate steps in iterations that `fit(train)` runs: the options' own, or their `epochs` and
   * milestones made iterations for this training set.
   */
  schedule(train: ImageDataset): Schedule {
    if (!(train instanceof ImageDataset)) throw v.expected(DATASET, train);
    return scheduleFor(this.options, train.length);
  }

  /** A training set this trainer's batch size fits (and, for a fit, whose classes its model has). */
  #checkData(train: ImageDataset, forFit = false): void {
    if (forFit) checkClasses(this.model.config.numClasses, train.classes.length);
    checkInput(this.model.config.inChannels, train.shape);
    const n = this.options.normalization;
    const mismatch = typeof n === 'object' ? normalizationMismatch(n, [this.model.config.inChannels, train.shape.height, train.shape.width]) : undefined;
    if (mismatch) throw new RangeError(`Cannot train on this dataset: ${mismatch}`);
    if (this.options.batchSize > train.length) {
      throw new RangeError(`Expected batchSize <= the training set's ${train.length} images but received ${this.options.batchSize}`);
    }
  }

  #nativeOptions({ iterations, milestones }: Schedule, fit: Partial<NativeFitOptions>): NativeFitOptions {
    return {
      ...this.options, // epochs, when set, is made iterations here; the addon reads no epochs

      iterations,
      milestones,
      reportEvery: REPORT_EVERY,
      evalBatchSize: EVAL_BATCH_SIZE,
      ...fit,
    };
  }

  /** Evaluation images the trained network can take: its channels, and the training images' size under a per-pixel mean. */
  #checkEvalData(train: ImageDataset, evalData: ImageDataset): void {
    checkClasses(this.model.config.numClasses, evalData.classes.length);
    checkInput(this.model.config.inChannels, evalData.shape);
    const n = this.options.normalization;
    const perPixel = n === 'pixel' || (typeof n === 'object' && n.kind === 'pixel');
    if (perPixel && (evalData.shape.height !== train.shape.height || evalData.shape.width !== train.shape.width)) {
      throw new RangeError(`Expected eval images of the training images' size under a per-pixel mean ` +
        `(${shapeOf(train).join('×')}) but they are ${shapeOf(evalData).join('×')}`);
    }
  }

  #progress(e: NativeFitEvent, train: ImageDataset, iterations: number): FitProgress {
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

