// What a `--data` path holds, told from its files, and its splits loaded: CIFAR-10 (the batches folder or the
// .tar.gz), CIFAR-100 (the binary folder or its .tar.gz; fine labels) or an MNIST-format folder (MNIST, Fashion-MNIST: train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte,
// plain or .gz). The CLI's train, eval and info read data through here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10 } from './cifar10';
import { Cifar100, isCifar100 } from './cifar100';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, ImageDataset } from './image-dataset';

/** The kinds of dataset a path can hold. */
export type SourceKind = 'cifar10' | 'cifar100' | 'mnist';

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
  return isCifar100(source) ? 'cifar100' : 'cifar10';
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

/** One published split of `source`. */
export async function loadSplit(source: string, split: 'train' | 'test'): Promise<ImageDataset> {
  const kind = detectSource(source);
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

export async function loadTrainTest(source: string, holdout = 0): Promise<TrainTest> {
  const kind = detectSource(source);
  const test = await loadSplit(source, 'test');
  if (kind === 'cifar10') {
    const train = await Cifar10.load(source, { split: 'train', holdout: holdout || undefined });
    return { kind, train, validation: train.validation, test };
  }
  const all = await loadSplit(source, 'train');
  return { kind, ...(holdout > 0 ? all.holdOut(holdout) : { train: all, validation: undefined }), test };
}
