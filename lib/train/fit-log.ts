// A fit's progress in TensorBoard's event files.
import { TensorBoardWriter } from '../io/tensorboard';
import type { FitProgress } from './fit-types';

/**
 * A fit's progress as TensorBoard scalars (loss/train, error/train, lr, images_per_second; error/<split> and
 * loss/<split> of the evaluation set, test or validation); the first event marks the (re)start, so a resumed run
 * replaces what its earlier life logged past the checkpoint.
 */
export class TensorBoardLog {
  #writer: TensorBoardWriter;
  #config: object;
  #evalSplit: string;
  #started = false;

  /** `config`: the model's and trainer's settings, logged once as text. */
  constructor(dir: string, config: object, evalSplit: string) {
    this.#writer = new TensorBoardWriter(dir);
    this.#config = config;
    this.#evalSplit = evalSplit;
  }

  log(p: FitProgress): void {
    if (!this.#started) {
      this.#started = true;
      this.#writer.start(p.iteration);
      // Typed arrays (a per-pixel mean) as plain arrays, not {"0": …} objects.
      const json = JSON.stringify(this.#config, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v), 2);
      this.#writer.text(p.iteration, 'config', '```json\n' + json + '\n```');
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
