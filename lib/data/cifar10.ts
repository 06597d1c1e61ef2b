// CIFAR-10, binary version: data_batch_1..5.bin (train), test_batch.bin (test), batches.meta.txt (class names).
// The images live in native memory as one uint8 tensor (N, 3, 32, 32); nothing is copied per image into JS.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type NativeDataset } from '../base/native';
import { ImageDataset } from './image-dataset';
import * as v from '../base/validate';
import { readTarGz } from '../io/archive';
import { CIFAR10_ARCHIVE, defaultCacheDir, downloadCifar10, type DownloadOptions } from '../base/download';

/** CIFAR-10's two published splits: 50,000 training and 10,000 test images. */
export type Split = 'train' | 'test';

/** Which images Cifar10.load reads. */
export interface Cifar10LoadOptions {
  /** Default 'train'. */
  split?: Split;
  /** Train split only: keep the last `holdout` images apart as `validation` (the paper's 45k/5k uses 5000). */
  holdout?: number;
}

/** Bytes of one record of the binary version: a label byte and 3×32×32 pixels. */
export const CIFAR10_RECORD_BYTES = 3073;
/** Bytes of one batch file (10,000 records). */
export const CIFAR10_FILE_BYTES = 10_000 * CIFAR10_RECORD_BYTES;
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILES = ['test_batch.bin'];
const ARCHIVE_FOLDER = 'cifar-10-batches-bin';
/** Class names of CIFAR-10 by label (what batches.meta.txt lists). */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);

/** Finds the folder holding the batch files: `source` itself or its `cifar-10-batches-bin` child. */
function batchesDir(source: string): string {
  const nested = path.join(source, 'cifar-10-batches-bin');
  return fs.existsSync(path.join(nested, 'test_batch.bin')) || fs.existsSync(path.join(nested, 'data_batch_1.bin'))
    ? nested : source;
}

/** batches.meta.txt lists ten names (61 bytes in the official archive); a larger one is refused unread. */
const MAX_META_BYTES = 64 * 1024;

function parseClasses(text: string, where: string): string[] {
  const classes = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  if (classes.length !== 10) throw new Error(`${where} lists ${classes.length} class names, expected 10`);
  return classes;
}

type Source = { files: (string | { name: string; data: Uint8Array })[]; classes: readonly string[] };

async function folderSource(source: string, split: Split): Promise<Source> {
  const dir = batchesDir(source);
  const files = (split === 'train' ? TRAIN_FILES : TEST_FILES).map((f) => path.join(dir, f));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`CIFAR-10 file ${f} is missing (expected ${files.map((x) => path.basename(x)).join(', ')} in ${dir})`);
  }
  const meta = path.join(dir, 'batches.meta.txt');
  let classes = CIFAR10_CLASSES;
  if (fs.existsSync(meta)) {
    const size = fs.statSync(meta).size;
    if (size > MAX_META_BYTES) throw new Error(`${meta} has ${size} bytes (a list of ten class names has at most ${MAX_META_BYTES})`);
    classes = parseClasses(fs.readFileSync(meta, 'utf8'), meta);
  }
  return { files, classes };
}

/** The batch files of `split` from the official .tar.gz (its cifar-10-batches-bin/ folder), read in memory. */
async function archiveSource(file: string, split: Split): Promise<Source> {
  const wanted = [...(split === 'train' ? TRAIN_FILES : TEST_FILES), 'batches.meta.txt'];
  const limits = Object.fromEntries(wanted.map((f) => [`${ARCHIVE_FOLDER}/${f}`, f === 'batches.meta.txt' ? MAX_META_BYTES : CIFAR10_FILE_BYTES]));
  const { members, names } = await readTarGz(file, limits);
  const byName = new Map(members.map((m) => [m.name.slice(ARCHIVE_FOLDER.length + 1), m.data]));
  const files = wanted.slice(0, -1).map((f) => {
    const data = byName.get(f);
    if (!data) {
      const seen = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length} entries)` : '');
      throw new Error(`${file} has no ${ARCHIVE_FOLDER}/${f} (expected the official cifar-10-binary.tar.gz; found: ${seen || 'no files'})`);
    }
    return { name: `${file}:${ARCHIVE_FOLDER}/${f}`, data };
  });
  const meta = byName.get('batches.meta.txt');
  return { files, classes: meta ? parseClasses(Buffer.from(meta).toString('utf8'), `${file}:${ARCHIVE_FOLDER}/batches.meta.txt`) : CIFAR10_CLASSES };
}

/** CIFAR-10 images and labels in native memory (uint8), read from the binary version's files or its .tar.gz. */
export class Cifar10 extends ImageDataset {
  /** Which images these are: a published split, or the images held out of the training split. */
  declare readonly split: Split | 'validation';
  /** The held-out validation images (train split with `holdout`), else undefined. */
  readonly validation: Cifar10 | undefined;

  private constructor(data: NativeDataset, classes: readonly string[], split: Split | 'validation', validation?: Cifar10) {
    super(data, classes, split);
    this.validation = validation;
  }

  /**
   * Downloads the official cifar-10-binary.tar.gz into a cache folder (once; md5-checked, resumable) and returns
   * its path, which `load` reads directly.
   */
  static download(options: DownloadOptions = {}): Promise<string> {
    return downloadCifar10(options);
  }

  /**
   * Where the data comes from, in order: `source`, CIFAR10_DIR, an archive already in the download cache, or (with
   * `download: true`) a fresh download. Otherwise an error that lists these ways.
   */
  static async locate(options: { source?: string; download?: boolean | DownloadOptions } = {}): Promise<string> {
    const o = v.checkKeys('Cifar10.locate', options, ['source', 'download']);
    if (o.source !== undefined) return v.nonEmptyString('source', o.source);
    if (process.env.CIFAR10_DIR) return process.env.CIFAR10_DIR;
    const dl: DownloadOptions = typeof o.download === 'object' && o.download !== null ? o.download as DownloadOptions : {};
    const cached = path.join(dl.dir ? path.resolve(dl.dir) : defaultCacheDir(), CIFAR10_ARCHIVE);
    if (fs.existsSync(cached)) return cached;
    if (o.download) return downloadCifar10(dl);
    throw new Error('No CIFAR-10 data: pass the cifar-10-batches-bin folder or cifar-10-binary.tar.gz, set CIFAR10_DIR, ' +
      `or download it (Cifar10.download(), CLI --download) into ${path.dirname(cached)}`);
  }

  /**
   * Loads a split from the cifar-10-batches-bin folder (or its parent) or from cifar-10-binary.tar.gz itself.
   * Every batch file is checked: 10,000 records of 3,073 bytes, labels 0–9.
   */
  static async load(source: string, options: Cifar10LoadOptions = {}): Promise<Cifar10> {
    v.nonEmptyString('source', source);
    const o = v.checkKeys('Cifar10.load', options, ['split', 'holdout']);
    const split = v.oneOf('split', o.split ?? 'train', ['train', 'test'] as const);
    const holdout = o.holdout === undefined ? 0 : v.integer('holdout', o.holdout, 0, 49_999);
    if (holdout > 0 && split !== 'train') throw new RangeError(`holdout applies to the train split, not '${split}'`);
    let st: fs.Stats;
    try {
      st = fs.statSync(source);
    } catch {
      throw new Error(`CIFAR-10 source ${source} does not exist (expected the cifar-10-batches-bin folder or cifar-10-binary.tar.gz)`);
    }
    const { files, classes } = st.isDirectory() ? await folderSource(source, split) : await archiveSource(source, split);
    const all = await native().Dataset.loadBatches(files);
    if (holdout === 0) return new Cifar10(all, classes, split);
    const n = all.length();
    const val = new Cifar10(all.slice(n - holdout, n), classes, 'validation');
    return new Cifar10(all.slice(0, n - holdout), classes, split, val);
  }
}
