// CIFAR-100, binary version: train.bin (50,000 images) and test.bin (10,000), each record a coarse label byte (20
// superclasses), a fine label byte (100 classes) and 3×32×32 pixels; fine_label_names.txt and
// coarse_label_names.txt name the classes. Read from the cifar-100-binary folder or cifar-100-binary.tar.gz by the
// same native reader as CIFAR-10's batches.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, type NativeDataset } from '../base/native';
import * as v from '../base/validate';
import { readTarGz } from '../io/archive';
import { ImageDataset } from './image-dataset';

/** Which labels Cifar100.load gives: the 100 fine classes or the 20 coarse superclasses. */
export type Cifar100Labels = 'fine' | 'coarse';

/** Which images Cifar100.load reads, with which labels. */
export interface Cifar100LoadOptions {
  /** Default 'train'. */
  split?: 'train' | 'test';
  /** Default 'fine'. */
  labels?: Cifar100Labels;
}

/** Bytes of one record of the binary version: two label bytes and 3×32×32 pixels. */
export const CIFAR100_RECORD_BYTES = 3074;
const FILES = { train: 'train.bin', test: 'test.bin' } as const;
const NAMES = { fine: 'fine_label_names.txt', coarse: 'coarse_label_names.txt' } as const;
const COUNT = { fine: 100, coarse: 20 } as const;
const ARCHIVE_FOLDER = 'cifar-100-binary';
/** A names file lists 100 short names; a larger one is refused unread. */
const MAX_NAMES_BYTES = 64 * 1024;

function parseNames(text: string, where: string, labels: Cifar100Labels): string[] {
  const names = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  if (names.length !== COUNT[labels]) throw new Error(`${where} lists ${names.length} class names, expected ${COUNT[labels]}`);
  return names;
}

/** The folder holding train.bin / test.bin: `source` itself or its cifar-100-binary child. */
function binaryDir(source: string): string {
  const nested = path.join(source, ARCHIVE_FOLDER);
  return fs.existsSync(path.join(nested, FILES.test)) || fs.existsSync(path.join(nested, FILES.train)) ? nested : source;
}

/** Whether `source` looks like CIFAR-100's binary version (a folder with train.bin or test.bin, or its archive). */
export function isCifar100(source: string): boolean {
  if (!fs.existsSync(source)) return false;
  if (fs.statSync(source).isDirectory()) {
    const dir = binaryDir(source);
    return fs.existsSync(path.join(dir, FILES.test)) || fs.existsSync(path.join(dir, FILES.train));
  }
  return /cifar-?100/i.test(path.basename(source)) && /\.(tar\.gz|tgz)$/.test(source);
}

/** CIFAR-100 images and labels in native memory (uint8), from the binary version's files or its .tar.gz. */
export class Cifar100 extends ImageDataset {
  /** Which labels these images carry. */
  readonly labels: Cifar100Labels;

  private constructor(data: NativeDataset, classes: readonly string[], split: 'train' | 'test', labels: Cifar100Labels) {
    super(data, classes, split);
    this.labels = labels;
  }

  /**
   * Loads a split from the cifar-100-binary folder (or its parent) or from cifar-100-binary.tar.gz. The file must be a
   * whole number of 3,074-byte records with labels in range; class names come from the names files when present
   * (else 'class 0', …).
   */
  static async load(source: string, options: Cifar100LoadOptions = {}): Promise<Cifar100> {
    v.nonEmptyString('source', source);
    const o = v.checkKeys('Cifar100.load', options, ['split', 'labels']);
    const split = v.oneOf('split', o.split ?? 'train', ['train', 'test'] as const);
    const labels = v.oneOf('labels', o.labels ?? 'fine', ['fine', 'coarse'] as const);
    if (!fs.existsSync(source)) throw new Error(`CIFAR-100 source ${source} does not exist (expected the cifar-100-binary folder or cifar-100-binary.tar.gz)`);
    let file: string | { name: string; data: Uint8Array };
    let namesText: { text: string; where: string } | undefined;
    if (fs.statSync(source).isDirectory()) {
      const dir = binaryDir(source);
      file = path.join(dir, FILES[split]);
      if (!fs.existsSync(file)) throw new Error(`CIFAR-100 file ${file} is missing (expected ${FILES.train} and ${FILES.test} in ${dir})`);
      const names = path.join(dir, NAMES[labels]);
      if (fs.existsSync(names)) {
        const size = fs.statSync(names).size;
        if (size > MAX_NAMES_BYTES) throw new Error(`${names} has ${size} bytes (a list of class names has at most ${MAX_NAMES_BYTES})`);
        namesText = { text: fs.readFileSync(names, 'utf8'), where: names };
      }
    } else {
      const member = `${ARCHIVE_FOLDER}/${FILES[split]}`;
      const namesMember = `${ARCHIVE_FOLDER}/${NAMES[labels]}`;
      const { members, names } = await readTarGz(source, { [member]: 50_000 * CIFAR100_RECORD_BYTES, [namesMember]: MAX_NAMES_BYTES });
      const data = members.find((m) => m.name === member)?.data;
      if (!data) {
        const seen = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length} entries)` : '');
        throw new Error(`${source} has no ${member} (expected the official cifar-100-binary.tar.gz; found: ${seen || 'no files'})`);
      }
      file = { name: `${source}:${member}`, data };
      const n = members.find((m) => m.name === namesMember);
      if (n) namesText = { text: Buffer.from(n.data).toString('utf8'), where: `${source}:${namesMember}` };
    }
    const classes = namesText ? parseNames(namesText.text, namesText.where, labels)
      : Array.from({ length: COUNT[labels] }, (_, i) => `class ${i}`);
    const data = await native().Dataset.loadBatches([file], labels === 'fine' ? 'cifar100-fine' : 'cifar100-coarse');
    return new Cifar100(data, Object.freeze(classes), split, labels);
  }
}
