// What a `--data` path holds, told from its files, and its splits loaded: CIFAR-10 (the batches folder or the
// .tar.gz), CIFAR-100 (the binary folder or its .tar.gz; fine labels), an MNIST-format folder (MNIST,
// Fashion-MNIST: train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte, plain or .gz) or a folder of class folders
// of images (train/ and test/ or val/ inside it, or one set of which a tenth is held out for testing). The CLI's
// train, eval and info read data through here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10 } from './cifar10';
import { Cifar100, isCifar100 } from './cifar100';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, ImageDataset } from './image-dataset';

/** The kinds of dataset a path can hold. */
export type SourceKind = 'cifar10' | 'cifar100' | 'mnist' | 'folder';

/** How images are decoded from a folder source (the other sources fix their own). */
export interface FolderDecode {
  /** Square side (default 32). */
  size?: number;
  grayscale?: boolean;
}

/** A folder source without its own test folder: this share of each class is held out as its test images. */
export const FOLDER_TEST_FRACTION = 0.1;

/** Class names of an MNIST-format folder: its classes.txt (one per line), else Fashion-MNIST's or the digits. */
const CLASSES_FILE = 'classes.txt';

const IDX_NAMES = ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte', 't10k-images-idx3-ubyte.gz'];

/**
 * Which kind `source` holds: an MNIST-format folder when it has IDX image files, CIFAR-100 when it has train.bin or
 * test.bin (or is named as its archive), else CIFAR-10 (checked as it loads).
 */
export function detectSource(source: string): SourceKind {
  const isDir = fs.existsSync(source) && fs.statSync(source).isDirectory();
  if (isDir && IDX_NAMES.some((f) => fs.existsSync(path.join(source, f)))) return 'mnist';
  if (isCifar100(source)) return 'cifar100';
  const cifar10 = ['test_batch.bin', 'data_batch_1.bin'].some((f) => fs.existsSync(path.join(source, f)) ||
    fs.existsSync(path.join(source, 'cifar-10-batches-bin', f)));
  const subdirs = isDir && fs.readdirSync(source, { withFileTypes: true }).some((e) => e.isDirectory());
  return isDir && !cifar10 && subdirs ? 'folder' : 'cifar10';
}

/** A folder source's train and test folders: its train/ and test/ (or val/) when it has them. */
function splitFolders(source: string): { train: string; test: string } | undefined {
  const train = path.join(source, 'train');
  const test = ['test', 'val', 'validation'].map((d) => path.join(source, d)).find((d) => fs.existsSync(d));
  return fs.existsSync(train) && test ? { train, test } : undefined;
}

/** Both splits of a folder source. */
async function loadFolder(source: string, decode: FolderDecode): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const o = { size: decode.size, grayscale: decode.grayscale };
  const split = splitFolders(source);
  if (split) {
    const train = (await ImageDataset.fromFolder(split.train, o)).train;
    const test = (await ImageDataset.fromFolder(split.test, { ...o, classes: train.classes })).train;
    return { train, test };
  }
  const d = await ImageDataset.fromFolder(source, { ...o, validation: { fraction: FOLDER_TEST_FRACTION, seed: 0 } });
  if (!d.validation) throw new Error(`${source}: too few images to hold ${FOLDER_TEST_FRACTION * 100} % of them out for testing`);
  return { train: d.train, test: d.validation };
}

function mnistClasses(dir: string): readonly string[] | undefined {
  const file = path.join(dir, CLASSES_FILE);
  if (fs.existsSync(file)) {
    const names = fs.readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (names.length) return names;
  }
  const fashion = path.resolve(dir) === FASHION_MNIST_DEBIAN_DIR || /fashion/i.test(path.basename(path.resolve(dir)));
  return fashion ? FASHION_MNIST_CLASSES : undefined;
}

/** One split of `source` (a folder source's: see loadFolder). */
export async function loadSplit(source: string, split: 'train' | 'test', decode: FolderDecode = {}): Promise<ImageDataset> {
  const kind = detectSource(source);
  if (kind === 'folder') return (await loadFolder(source, decode))[split];
  if (kind === 'mnist') return ImageDataset.loadMnist(source, { split, classes: mnistClasses(source) });
  if (kind === 'cifar100') return Cifar100.load(source, { split });
  return Cifar10.load(source, { split });
}

/** The training images (less `holdout` kept apart as validation images, the last ones) and the test images. */
export interface TrainTest {
  kind: SourceKind;
  train: ImageDataset;
  validation: ImageDataset | undefined;
  test: ImageDataset;
}

export async function loadTrainTest(source: string, holdout = 0, decode: FolderDecode = {}): Promise<TrainTest> {
  const kind = detectSource(source);
  if (kind === 'folder') {
    const { train, test } = await loadFolder(source, decode);
    return { kind, ...(holdout > 0 ? train.holdOut(holdout) : { train, validation: undefined }), test };
  }
  const test = await loadSplit(source, 'test');
  if (kind === 'cifar10') {
    const train = await Cifar10.load(source, { split: 'train', holdout: holdout || undefined });
    return { kind, train, validation: train.validation, test };
  }
  const all = await loadSplit(source, 'train');
  return { kind, ...(holdout > 0 ? all.holdOut(holdout) : { train: all, validation: undefined }), test };
}
