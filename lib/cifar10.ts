// CIFAR-10, binary version: data_batch_1..5.bin (train), test_batch.bin (test), batches.meta.txt (class names).
// The images live in native memory as one uint8 tensor (N, 3, 32, 32); nothing is copied per image into JS.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type NativeDataset } from './native';
import * as v from './validate';

export type Split = 'train' | 'test';

export interface Cifar10LoadOptions {
  split?: Split;
  /** Train split only: keep the last `holdout` images apart as `validation` (the paper's 45k/5k uses 5000). */
  holdout?: number;
}

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_FILE_BYTES = 10_000 * CIFAR10_RECORD_BYTES;
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILES = ['test_batch.bin'];
const DEFAULT_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Finds the folder holding the batch files: `source` itself or its `cifar-10-batches-bin` child. */
function batchesDir(source: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new Error(`CIFAR-10 source ${source} does not exist (expected the cifar-10-batches-bin folder)`);
  }
  if (!st.isDirectory()) {
    throw new Error(`CIFAR-10 source ${source} is not a folder (expected the cifar-10-batches-bin folder)`);
  }
  const nested = path.join(source, 'cifar-10-batches-bin');
  return fs.existsSync(path.join(nested, 'test_batch.bin')) || fs.existsSync(path.join(nested, 'data_batch_1.bin'))
    ? nested : source;
}

export class Cifar10 {
  readonly #data: NativeDataset;
  /** Class names, from batches.meta.txt. */
  readonly classes: readonly string[];
  readonly split: Split | 'validation';
  /** The held-out validation images (train split with `holdout`), else undefined. */
  readonly validation: Cifar10 | undefined;

  private constructor(data: NativeDataset, classes: readonly string[], split: Split | 'validation', validation?: Cifar10) {
    this.#data = data;
    this.classes = classes;
    this.split = split;
    this.validation = validation;
  }

  static async load(source: string, options: Cifar10LoadOptions = {}): Promise<Cifar10> {
    v.nonEmptyString('source', source);
    const o = v.checkKeys('Cifar10.load', options, ['split', 'holdout']);
    const split = v.oneOf('split', o.split ?? 'train', ['train', 'test'] as const);
    const holdout = o.holdout === undefined ? 0 : v.integer('holdout', o.holdout, 0, 49_999);
    if (holdout > 0 && split !== 'train') throw new RangeError(`holdout applies to the train split, not '${split}'`);
    const dir = batchesDir(source);
    const files = (split === 'train' ? TRAIN_FILES : TEST_FILES).map((f) => path.join(dir, f));
    for (const f of files) {
      if (!fs.existsSync(f)) throw new Error(`CIFAR-10 file ${f} is missing (expected ${files.map((x) => path.basename(x)).join(', ')} in ${dir})`);
    }
    const meta = path.join(dir, 'batches.meta.txt');
    const classes = fs.existsSync(meta)
      ? fs.readFileSync(meta, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean)
      : DEFAULT_CLASSES;
    if (classes.length !== 10) throw new Error(`${meta} lists ${classes.length} class names, expected 10`);
    const all = await native().Dataset.loadBatches(files);
    if (holdout === 0) return new Cifar10(all, classes, split);
    const n = all.length();
    const val = new Cifar10(all.slice(n - holdout, n), classes, 'validation');
    return new Cifar10(all.slice(0, n - holdout), classes, split, val);
  }

  get length(): number {
    return this.#data.length();
  }

  /** Images per class, indexed like `classes`. */
  labelCounts(): number[] {
    return this.#data.labelCounts(this.classes.length);
  }

  /** Raw pixels (uint8, CHW per image) and labels of images [start, start + count). */
  images(start: number, count: number): { pixels: Uint8Array; labels: Uint8Array } {
    v.integer('start', start, 0, this.length - 1);
    v.integer('count', count, 1, this.length - start);
    return this.#data.images(start, count);
  }

  /** Per-channel mean and std of pixels / 255. */
  channelStats(): Promise<{ mean: number[]; std: number[] }> {
    return this.#data.channelStats();
  }

  /** The paper's per-pixel mean (3×32×32 values of pixels / 255). */
  pixelMean(): Promise<Float32Array> {
    return this.#data.pixelMean();
  }

  /** @internal */
  get nativeDataset(): NativeDataset {
    return this.#data;
  }
}
