// A labeled image set in native memory: uint8 N×C×H×W images (C = 1 or 3), labels 0..K-1 and the classes' names.
// Every source ends here (CIFAR-10's files in cifar10.ts, arrays, IDX files); the trainer, evaluate and the CLI take
// any of them alike. Nothing is copied per image into JS.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type NativeDataset } from '../base/native';
import type { ImageShape } from '../base/types';
import * as v from '../base/validate';
import { defaultCacheDir } from '../base/download';
import { classFolders, decodeFolder, DEFAULT_CONCURRENCY, type FolderProgress, type SkippedFile } from './folder';
import { MAX_INPUT_PIXELS, type ImageFit } from './images';

export type { ImageShape, FolderProgress, SkippedFile, ImageFit };

/** A dataset's part: a published training or test split, or images held out of the training split. */
export type DatasetSplit = 'train' | 'test' | 'validation';

/** How ImageDataset.fromArrays reads its pixels. */
export interface FromArraysOptions {
  /** Every image's shape. */
  shape: ImageShape;
  /** 'nhwc': channels last, as decoders (sharp, canvas, tfjs) give them; 'nchw': planes, as CIFAR's files hold them. */
  layout: 'nhwc' | 'nchw';
  /** The class names, by label (K = 2 to 1,000 names; every label must be below K). */
  classes: readonly string[];
}

/** How ImageDataset.loadIdx reads MNIST-format files. */
export interface IdxOptions {
  /** The class names, by label (default: '0', '1', … up to the largest label). */
  classes?: readonly string[];
  /** The most bytes of values a file's header may declare (default 2 GiB): a larger one is refused unread. */
  maxBytes?: number;
}

/** Which MNIST-format split loadMnist reads. */
export interface MnistOptions extends IdxOptions {
  /** 'train' (train-*-ubyte) or 'test' (t10k-*-ubyte); default 'train'. */
  split?: 'train' | 'test';
}

/** How ImageDataset.fromFolder reads a folder of class folders. */
export interface FromFolderOptions {
  /** The images' size after decoding: a side (square) or `{ width, height }`; default 32 (CIFAR's). */
  size?: number | { width: number; height: number };
  /** How an image of another aspect is fitted: 'cover' (default: scaled and centre-cropped), 'fill' (stretched), 'contain' (letterboxed). */
  fit?: ImageFit;
  /** Decode as grey (1 channel) instead of sRGB (3). */
  grayscale?: boolean;
  /** The class folders to read, in label order (default: every subfolder, sorted by name). */
  classes?: readonly string[];
  /** Keep `fraction` of each class's images apart as validation images, drawn with `seed` (default 0). */
  validation?: { fraction: number; seed?: number };
  /** 'throw' (default): an undecodable file is an error naming it; 'skip': it is left out and listed in `skipped`. */
  onError?: 'throw' | 'skip';
  /** Pixels one file may decode to before it is refused as a decompression bomb (default 100 million). */
  maxPixels?: number;
  /** The most bytes the decoded images may take (default 2 GiB): a larger folder is refused before decoding. */
  maxBytes?: number;
  /** Files decoded at once (default twice the cores, at most 16). */
  concurrency?: number;
  /**
   * Keep the decoded bytes for the next load of the same files with the same options (keyed by the files' names,
   * sizes and times and the options): true for the cache folder (RESNET_CIFAR_CACHE or ~/.cache/resnet-cifar), or a
   * folder. Default false.
   */
  cache?: boolean | string;
  /** Called as files are decoded. */
  onProgress?: (p: FolderProgress) => void;
}

/** What ImageDataset.fromFolder returns. */
export interface FolderDatasets {
  /** The training images (all of them without `validation`). */
  train: ImageDataset;
  /** The validation images, when `validation` asked for some. */
  validation: ImageDataset | undefined;
  /** Files left out (onError 'skip'), with why. */
  skipped: SkippedFile[];
  /** Whether the bytes came from the cache instead of decoding. */
  fromCache: boolean;
}

/** Fashion-MNIST's class names by label (what its README lists). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

/** Where Debian's dataset-fashion-mnist package puts the real Fashion-MNIST files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

const DEFAULT_MAX_BYTES = 2 ** 31;

function checkClassNames(name: string, classes: unknown): readonly string[] {
  const { minDatasetClasses, maxDatasetClasses } = native().constants;
  if (!Array.isArray(classes) || classes.some((c) => typeof c !== 'string' || c.length === 0)) {
    throw v.invalid(name, 'to be an array of non-empty class names', classes);
  }
  if (classes.length < minDatasetClasses || classes.length > maxDatasetClasses) {
    throw v.invalid(name, `to hold ${minDatasetClasses} to ${maxDatasetClasses} names`, `${classes.length} names`, RangeError);
  }
  if (new Set(classes).size !== classes.length) throw v.invalid(name, 'to hold distinct names', classes, RangeError);
  return Object.freeze([...classes]);
}

function checkShape(shape: unknown): ImageShape {
  const o = v.checkKeys('shape', shape, ['channels', 'height', 'width']);
  const { minImageSide, maxImageSide } = native().constants;
  if (o.channels !== 1 && o.channels !== 3) throw v.invalid('shape.channels', 'to be 3 (colour) or 1 (grey)', o.channels);
  return {
    channels: o.channels,
    height: v.integer('shape.height', o.height, minImageSide, maxImageSide),
    width: v.integer('shape.width', o.width, minImageSide, maxImageSide),
  };
}

/** Labels as the addon takes them: integers 0..classes-1, one per image. */
function checkLabels(labels: unknown, classes: number): Int32Array {
  const ok = labels instanceof Int32Array || labels instanceof Uint8Array || labels instanceof Uint16Array ||
    labels instanceof Uint32Array || labels instanceof Int16Array || labels instanceof Int8Array || Array.isArray(labels);
  if (!ok) throw v.invalid('labels', 'to be an integer typed array or an array of labels', labels);
  const out = Int32Array.from(labels as ArrayLike<number>);
  const bad = Array.from(labels as ArrayLike<number>).findIndex((l, i) => !Number.isInteger(l) || l < 0 || l >= classes || out[i] !== l);
  if (bad >= 0) throw v.invalid(`labels[${bad}]`, `to be an integer from 0 to ${classes - 1}`, (labels as ArrayLike<number>)[bad], RangeError);
  return out;
}

/** A labeled image set in native memory (uint8 N×C×H×W), from any source; what Trainer.fit and evaluate take. */
export class ImageDataset {
  readonly #data: NativeDataset;
  /** The class names, by label. */
  readonly classes: readonly string[];
  /** Every image's shape. */
  readonly shape: Readonly<ImageShape>;
  /** Which images these are, where the source says (a published split, or images held out for validation). */
  readonly split: DatasetSplit | undefined;

  /** @internal Datasets are made by the static loaders (ImageDataset's and Cifar10's). */
  protected constructor(data: NativeDataset, classes: readonly string[], split?: DatasetSplit) {
    this.#data = data;
    this.classes = classes;
    this.split = split;
    const [channels, height, width] = data.shape();
    this.shape = Object.freeze({ channels: channels as 1 | 3, height, width });
  }

  /**
   * Images handed over as bytes: `pixels` holds N images of `shape` in `layout` order (N×H×W×C or N×C×H×W), `labels`
   * their N labels. The bytes are copied into native memory; the arrays may be reused at once.
   */
  static async fromArrays(pixels: Uint8Array, labels: ArrayLike<number>, options: FromArraysOptions): Promise<ImageDataset> {
    if (!(pixels instanceof Uint8Array)) throw v.invalid('pixels', 'to be a Uint8Array', pixels);
    const o = v.checkKeys('ImageDataset.fromArrays', options, ['shape', 'layout', 'classes']);
    const shape = checkShape(o.shape);
    const layout = v.oneOf('layout', o.layout, ['nhwc', 'nchw'] as const);
    const classes = checkClassNames('classes', o.classes);
    const y = checkLabels(labels, classes.length);
    const per = shape.channels * shape.height * shape.width;
    if (y.length === 0 || pixels.length !== y.length * per) {
      throw v.invalid('pixels', `to hold ${y.length} images of ${shape.channels}×${shape.height}×${shape.width} ` +
        `(${y.length * per} bytes, one image per label)`, `${pixels.length} bytes`, RangeError);
    }
    const data = await native().Dataset.fromPixels(pixels, y, { ...shape, layout, classes: classes.length });
    return new ImageDataset(data, classes);
  }

  /**
   * A folder of class folders, as torchvision's ImageFolder reads it: `dir/<class>/…/<image>` (PNG, JPEG, WebP, GIF,
   * TIFF, AVIF; other files ignored), each image EXIF-rotated and resized to `size` (default 32×32, centre-cropped
   * to its aspect), decoded by sharp in parallel straight into native-bound memory.
   */
  static async fromFolder(dir: string, options: FromFolderOptions = {}): Promise<FolderDatasets> {
    v.nonEmptyString('dir', dir);
    const o = v.checkKeys('ImageDataset.fromFolder', options, ['size', 'fit', 'grayscale', 'classes', 'validation', 'onError',
      'maxPixels', 'maxBytes', 'concurrency', 'cache', 'onProgress']);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder (expected one subfolder per class)`);
    const { minImageSide, maxImageSide } = native().constants;
    const side = (name: string, x: unknown) => v.integer(name, x, minImageSide, maxImageSide);
    let width = 32;
    let height = 32;
    if (typeof o.size === 'object' && o.size !== null) {
      const s = v.checkKeys('size', o.size, ['width', 'height']);
      width = side('size.width', s.width);
      height = side('size.height', s.height);
    } else if (o.size !== undefined) {
      width = height = side('size', o.size);
    }
    const fit = v.oneOf('fit', o.fit ?? 'cover', ['cover', 'fill', 'contain'] as const);
    const grey = v.boolean('grayscale', o.grayscale ?? false);
    let validation: { fraction: number; seed: number } | undefined;
    if (o.validation !== undefined) {
      const val = v.checkKeys('validation', o.validation, ['fraction', 'seed']);
      validation = { fraction: v.inRange('validation.fraction', val.fraction, 0, 1), seed: v.integer('validation.seed', val.seed ?? 0, 0, 2 ** 31 - 1) };
      if (validation.fraction === 0 || validation.fraction === 1) {
        throw v.invalid('validation.fraction', 'to be between 0 and 1 (exclusive)', validation.fraction, RangeError);
      }
    }
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw v.invalid('onProgress', 'to be a function', o.onProgress);
    const given = o.classes === undefined ? undefined : checkClassNames('classes', o.classes);
    const classes = checkClassNames(`the class folders of ${dir}`, classFolders(dir, given));
    const cache = o.cache === undefined || o.cache === false ? undefined
      : o.cache === true ? path.join(defaultCacheDir(), 'folders') : path.resolve(v.nonEmptyString('cache', o.cache));
    const shape: ImageShape = { channels: grey ? 1 : 3, height, width };
    const d = await decodeFolder({
      dir, shape, fit, classes, validation,
      onError: v.oneOf('onError', o.onError ?? 'throw', ['throw', 'skip'] as const),
      maxPixels: v.integer('maxPixels', o.maxPixels ?? MAX_INPUT_PIXELS, 1, Number.MAX_SAFE_INTEGER),
      maxBytes: v.integer('maxBytes', o.maxBytes ?? DEFAULT_MAX_BYTES, 1, Number.MAX_SAFE_INTEGER),
      concurrency: v.integer('concurrency', o.concurrency ?? DEFAULT_CONCURRENCY, 1, 256),
      cacheDir: cache,
      onProgress: o.onProgress as ((p: FolderProgress) => void) | undefined,
    });
    if (d.labels.length === 0) throw new Error(`${dir}: no image could be decoded (${d.skipped.length} skipped)`);
    const data = await native().Dataset.fromPixels(d.pixels, d.labels, { ...shape, layout: 'nhwc', classes: classes.length });
    const all = new ImageDataset(data, classes, 'train');
    const n = d.labels.length;
    const split = d.trainCount < n && d.trainCount > 0;
    return {
      train: split ? new ImageDataset(data.slice(0, d.trainCount), classes, 'train') : all,
      validation: split ? new ImageDataset(data.slice(d.trainCount, n), classes, 'validation') : undefined,
      skipped: d.skipped,
      fromCache: d.fromCache,
    };
  }

  /**
   * MNIST-format (IDX) files: an image file of N×H×W grey images and a label file of N labels, each plain or gzip
   * (as MNIST and Fashion-MNIST ship them). Every header is checked against its file before anything is allocated.
   */
  static async loadIdx(images: string, labels: string, options: IdxOptions = {}): Promise<ImageDataset> {
    v.nonEmptyString('images', images);
    v.nonEmptyString('labels', labels);
    const o = v.checkKeys('ImageDataset.loadIdx', options, ['classes', 'maxBytes']);
    const given = o.classes === undefined ? undefined : checkClassNames('classes', o.classes);
    const maxBytes = v.integer('maxBytes', o.maxBytes ?? DEFAULT_MAX_BYTES, 1, Number.MAX_SAFE_INTEGER);
    return ImageDataset.#idx(images, labels, given, maxBytes);
  }

  static async #idx(images: string, labels: string, given: readonly string[] | undefined, maxBytes: number,
    split?: DatasetSplit): Promise<ImageDataset> {
    const data = await native().Dataset.loadIdx(images, labels, given?.length ?? 0, maxBytes);
    const counts = data.labelCounts(native().constants.maxDatasetClasses);
    const k = given?.length ?? Math.max(2, counts.reduce((last, c, i) => (c > 0 ? i : last), -1) + 1);
    return new ImageDataset(data, given ?? Object.freeze(Array.from({ length: k }, (_, i) => String(i))), split);
  }

  /**
   * A folder of MNIST-format files as MNIST and Fashion-MNIST publish them: `train-images-idx3-ubyte` and
   * `train-labels-idx1-ubyte` (or `t10k-…` for the test split), each plain or `.gz`.
   */
  static async loadMnist(dir: string, options: MnistOptions = {}): Promise<ImageDataset> {
    v.nonEmptyString('dir', dir);
    const o = v.checkKeys('ImageDataset.loadMnist', options, ['split', 'classes', 'maxBytes']);
    const split = v.oneOf('split', o.split ?? 'train', ['train', 'test'] as const);
    const prefix = split === 'train' ? 'train' : 't10k';
    const find = (kind: string) => {
      const names = [`${prefix}-${kind}-ubyte`, `${prefix}-${kind}-ubyte.gz`, `${prefix}-${kind}.idx${kind.endsWith('idx3') ? 3 : 1}-ubyte`];
      const found = names.map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
      if (!found) throw new Error(`${dir} has no ${names[0]} or ${names[1]} (expected MNIST-format files)`);
      return found;
    };
    const given = o.classes === undefined ? undefined : checkClassNames('classes', o.classes);
    const maxBytes = v.integer('maxBytes', o.maxBytes ?? DEFAULT_MAX_BYTES, 1, Number.MAX_SAFE_INTEGER);
    return ImageDataset.#idx(find('images-idx3'), find('labels-idx1'), given, maxBytes, split);
  }

  /** How many images. */
  get length(): number {
    return this.#data.length();
  }

  /** Images per class, indexed like `classes`. */
  labelCounts(): number[] {
    return this.#data.labelCounts(this.classes.length);
  }

  /** Raw pixels (uint8, C×H×W per image) and labels of images [start, start + count). */
  images(start: number, count: number): { pixels: Uint8Array; labels: Int32Array } {
    v.integer('start', start, 0, this.length - 1);
    v.integer('count', count, 1, this.length - start);
    return this.#data.images(start, count);
  }

  /** Images [start, end) as a dataset sharing this one's memory (and classes). */
  slice(start: number, end: number): ImageDataset {
    v.integer('start', start, 0, this.length - 1);
    v.integer('end', end, start + 1, this.length);
    return new ImageDataset(this.#data.slice(start, end), this.classes, this.split);
  }

  /**
   * The last `count` images kept apart as validation images (split 'validation'), and the rest to train on; both
   * share this dataset's memory (as Cifar10.load's `holdout`: the paper's 45k/5k is holdOut(5000)).
   */
  holdOut(count: number): { train: ImageDataset; validation: ImageDataset } {
    const n = this.length;
    v.integer('count', count, 1, n - 1);
    return {
      train: new ImageDataset(this.#data.slice(0, n - count), this.classes, this.split),
      validation: new ImageDataset(this.#data.slice(n - count, n), this.classes, 'validation'),
    };
  }

  /** Per-channel mean and std of pixels / 255 (computed natively, once per dataset). */
  async channelStats(): Promise<{ mean: number[]; std: number[] }> {
    const n = await this.#data.statistics('channel');
    return { mean: Array.from(n.mean), std: Array.from(n.std) };
  }

  /** The paper's per-pixel mean (C×H×W values of pixels / 255; computed natively, once per dataset). */
  async pixelMean(): Promise<Float32Array> {
    return (await this.#data.statistics('pixel')).mean;
  }

  /**
   * @internal The native images for a network of `channels` input channels: these, or (grey images for a colour
   * network) the grey channel repeated three times, made once and kept with this dataset.
   */
  async nativeFor(channels: number): Promise<NativeDataset> {
    if (channels === this.shape.channels) return this.#data;
    if (channels !== 3 || this.shape.channels !== 1) {
      throw new RangeError(`Expected a network of ${this.shape.channels} input channel(s) for this dataset's ` +
        `${this.shape.channels}×${this.shape.height}×${this.shape.width} images but it has ${channels}`);
    }
    this.#rgb ??= this.#data.repeatGrey();
    return this.#rgb;
  }

  #rgb: Promise<NativeDataset> | undefined;

  /** @internal */
  get nativeDataset(): NativeDataset {
    return this.#data;
  }
}
