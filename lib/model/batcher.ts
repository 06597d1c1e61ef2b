// Dynamic batching: single-image predictions from anywhere in the process coalesced into one batch of up to
// `maxBatch` images, or whatever has arrived `maxDelayMs` after the oldest waiting one (TorchServe's batch_size and
// max_batch_delay). One batch runs at a time; each caller gets its own row of logits.
import { checkPrecision, type Precision } from '../base/precision';
import * as v from '../base/validate';
import { checkImages } from './model-checks';
import { MAX_BATCH } from './inference';

/** How a Batcher coalesces predictions. */
export interface BatcherOptions {
  /** The most images in one batch (default 32). */
  maxBatch?: number;
  /** How long the oldest waiting image may wait for others before its batch runs, in ms (default 2). */
  maxDelayMs?: number;
  /** The most images waiting (not yet in a running batch); one more is rejected at once (default 1,024). */
  maxQueue?: number;
  /** Compute precision of the batches (default the model's: 'fp32' for a ResNet). */
  precision?: Precision;
}

/** What a Batcher has done so far. */
export interface BatcherStats {
  /** Batches run. */
  batches: number;
  /** Images predicted (in those batches). */
  images: number;
  /** How many batches had each size: `sizes[k]` is the count of batches of k images. */
  sizes: Record<number, number>;
  /** Images waiting now. */
  waiting: number;
  /** Predictions rejected because the queue was full. */
  rejected: number;
}

/** The network side of a Batcher: a batched predict (ResNet, TorchScriptModel, ExportedModel). */
export interface BatchPredictor {
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  /** Logits for n images (NCHW float32). */
  predict(input: Float32Array, n: number, options: { precision?: Precision }): Promise<Float32Array>;
}

/** A full queue: `code` 'QUEUE_FULL' (a server answers 503 with Retry-After). */
export class QueueFullError extends Error {
  /** 'QUEUE_FULL'. */
  readonly code = 'QUEUE_FULL';
}

interface Waiting {
  input: Float32Array;
  enqueued: number;
  resolve: (logits: Float32Array) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

const KEYS = ['maxBatch', 'maxDelayMs', 'maxQueue', 'precision'];

/** Coalesces single-image predictions into batches; make one with `model.batcher()`. */
export class Batcher {
  readonly #model: BatchPredictor;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #maxQueue: number;
  readonly #precision: Precision;
  #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #disposed = false;
  #stats = { batches: 0, images: 0, sizes: {} as Record<number, number>, rejected: 0 };

  /** @internal */
  constructor(model: BatchPredictor, options: BatcherOptions, defaultPrecision: Precision) {
    const o = v.checkKeys('batcher', options, KEYS);
    this.#model = model;
    this.#maxBatch = v.integer('maxBatch', o.maxBatch ?? 32, 1, MAX_BATCH);
    this.#maxDelayMs = v.inRange('maxDelayMs', o.maxDelayMs ?? 2, 0, 60_000, true);
    this.#maxQueue = v.integer('maxQueue', o.maxQueue ?? 1024, 1, 10_000_000);
    this.#precision = checkPrecision('precision', o.precision ?? defaultPrecision, model.device);
  }

  /**
   * Logits of one image (C×H×W float32, already normalized; 3×32×32 for CIFAR), computed in a batch with whatever
   * other images of its size are waiting. Rejects at once with a QueueFullError when `maxQueue` images are waiting, and with the signal's reason
   * when `signal` aborts before its batch has finished.
   */
  predict(image: Float32Array, options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    const o = v.checkKeys('batcher.predict', options, ['signal']);
    checkImages(image, 1, 'any');
    const signal = v.abortSignal('signal', o.signal);
    if (this.#disposed) return Promise.reject(new Error('This batcher has been disposed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.length >= this.#maxQueue) {
      this.#stats.rejected++;
      return Promise.reject(new QueueFullError(`The batcher's queue is full (${this.#maxQueue} images waiting): try again later`));
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const w: Waiting = { input: image.slice(), enqueued: Date.now(), resolve, reject, settled: false, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1); // still waiting: it leaves the queue; in a batch: its row is dropped
          this.#settle(w, undefined, signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#queue.push(w);
      this.#schedule();
    });
  }

  /** Batches run, images predicted, the batch sizes seen, images waiting, rejections. */
  get stats(): BatcherStats {
    return { ...this.#stats, sizes: { ...this.#stats.sizes }, waiting: this.#queue.length };
  }

  /** Stops taking predictions and resolves once every waiting one has been answered. Idempotent. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    while (this.#queue.length > 0 || this.#running) {
      if (!this.#running) this.#flush();
      await this.#running;
    }
  }

  #settle(w: Waiting, logits: Float32Array | undefined, error?: unknown): void {
    if (w.settled) return;
    w.settled = true;
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    if (logits) w.resolve(logits);
    else w.reject(error);
  }

  /** Runs a batch now when one is full (or being drained), else arms the timer for the oldest waiting image. */
  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#queue.length >= this.#maxBatch || this.#disposed) {
      this.#flush();
      return;
    }
    if (this.#timer) return;
    const wait = Math.max(0, this.#queue[0].enqueued + this.#maxDelayMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running || this.#queue.length === 0) return;
    // The oldest image and those of its size behind it (a batch holds one size; the rest wait for the next).
    const size = this.#queue[0].input.length;
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of this.#queue) (w.input.length === size && batch.length < this.#maxBatch ? batch : rest).push(w);
    this.#queue = rest;
    const input = new Float32Array(batch.length * size);
    batch.forEach((w, i) => input.set(w.input, i * size));
    this.#stats.batches++;
    this.#stats.images += batch.length;
    this.#stats.sizes[batch.length] = (this.#stats.sizes[batch.length] ?? 0) + 1;
    this.#running = this.#model.predict(input, batch.length, { precision: this.#precision }).then(
      (logits) => {
        const k = logits.length / batch.length;
        batch.forEach((w, i) => this.#settle(w, logits.slice(i * k, (i + 1) * k)));
      },
      (e) => batch.forEach((w) => this.#settle(w, undefined, e)),
    ).finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
  }
}
