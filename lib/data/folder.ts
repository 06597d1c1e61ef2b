// Image folders as torchvision's ImageFolder reads them: one subfolder per class (its name the class's name), the
// images anywhere under it. Walked (symlinks followed once each), split into training and validation images per
// class by a seeded draw, decoded in parallel by sharp straight into one preallocated buffer (memory flat while
// decoding), and optionally cached as raw bytes keyed by the files and the options. No dataset is made here:
// image-dataset.ts hands the bytes to the addon.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../base/native';
import type { ImageShape } from '../base/types';
import { writeAtomic } from '../base/files';
import { decodeImage, type ImageFit } from './images';

/** File extensions read as images (case-insensitive); other files are ignored, as torchvision's ImageFolder does. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** What decoding a folder reports as it goes. */
export interface FolderProgress {
  /** Files decoded (or skipped) so far. */
  done: number;
  /** Image files found. */
  total: number;
  /** Files skipped so far (onError 'skip'). */
  skipped: number;
}

/** A file left out of the dataset (onError 'skip'), and why. */
export interface SkippedFile {
  /** Its path. */
  file: string;
  /** The decoder's error. */
  reason: string;
}

/** The walked, checked options of one folder read. */
export interface FolderPlan {
  dir: string;
  shape: ImageShape;
  fit: ImageFit;
  classes: readonly string[];
  /** Validation images per class: a fraction of each class, drawn with `seed`. */
  validation?: { fraction: number; seed: number };
  onError: 'throw' | 'skip';
  maxPixels: number;
  maxBytes: number;
  concurrency: number;
  /** The cache folder; undefined: no cache. */
  cacheDir?: string;
  onProgress?: (p: FolderProgress) => void;
}

/** What a folder decodes to: HWC bytes of the training images then the validation images, with their labels. */
export interface DecodedFolder {
  pixels: Uint8Array;
  labels: Int32Array;
  /** How many of the images (the first ones) are training images. */
  trainCount: number;
  skipped: SkippedFile[];
  fromCache: boolean;
}

/** The class folders of `dir`: its subfolders, sorted by name (or `given`, which must all exist). */
export function classFolders(dir: string, given?: readonly string[]): string[] {
  const subdirs = fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(dir, e.name)).isDirectory()))
    .map((e) => e.name).sort();
  if (!given) return subdirs;
  const missing = given.filter((c) => !subdirs.includes(c));
  if (missing.length) throw new Error(`${dir} has no folder for class${missing.length > 1 ? 'es' : ''} ${missing.join(', ')} (its folders: ${subdirs.join(', ') || 'none'})`);
  return [...given];
}

/** Image files under `dir`, sorted, each real folder visited once (a symlink loop ends there). */
function imageFiles(dir: string, seen = new Set<string>()): string[] {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    // The entry's own type, except for a symlink, whose target is looked up (a dangling one is passed over).
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = fs.statSync(p);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue;
      }
    }
    if (isDir) out.push(...imageFiles(p, seen));
    else if (isFile && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

/** A seeded permutation of 0..n-1 (xorshift32 driving Fisher–Yates): the same split for the same seed everywhere. */
function permutation(n: number, seed: number): number[] {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Every image file with its label, training files first, then validation files (each part in class then name order). */
function plan(o: FolderPlan): { files: string[]; labels: number[]; trainCount: number } {
  const train: [string, number][] = [];
  const val: [string, number][] = [];
  o.classes.forEach((name, label) => {
    const files = imageFiles(path.join(o.dir, name));
    if (files.length === 0) throw new Error(`${path.join(o.dir, name)} (class '${name}') holds no image files (${IMAGE_EXTENSIONS.join(', ')})`);
    const k = o.validation ? Math.round(files.length * o.validation.fraction) : 0;
    const held = new Set(k > 0 ? permutation(files.length, o.validation!.seed + label).slice(0, k) : []);
    files.forEach((f, i) => (held.has(i) ? val : train).push([f, label]));
  });
  const all = [...train, ...val];
  return { files: all.map(([f]) => f), labels: all.map(([, l]) => l), trainCount: train.length };
}

const CACHE_VERSION = 1;

/** The cache file for these files and options: their names, sizes and times and every option that changes the bytes. */
function cacheFile(o: FolderPlan, files: string[]): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ v: CACHE_VERSION, dir: path.resolve(o.dir), shape: o.shape, fit: o.fit, classes: o.classes,
    validation: o.validation ?? null, onError: o.onError, maxPixels: o.maxPixels }));
  for (const f of files) {
    const st = fs.statSync(f);
    h.update(`\n${f}\t${st.size}\t${st.mtimeMs}`);
  }
  return path.join(o.cacheDir!, `folder-${h.digest('hex').slice(0, 32)}.bin`);
}

/** Cache file layout: 4-byte header length, a JSON header, then the pixels, then the labels (int32 LE). */
function writeCache(file: string, d: DecodedFolder): void {
  const header = Buffer.from(JSON.stringify({ v: CACHE_VERSION, n: d.labels.length, pixels: d.pixels.length, trainCount: d.trainCount, skipped: d.skipped }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeAtomic(file, Buffer.concat([len, header, d.pixels, Buffer.from(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength)]));
}

/** The cached bytes, or undefined when the file is absent or not whole (a damaged cache is decoded again). */
function readCache(file: string): DecodedFolder | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const b = fs.readFileSync(file);
    const hl = b.readUInt32LE(0);
    const h = JSON.parse(b.subarray(4, 4 + hl).toString('utf8')) as { v: number; n: number; pixels: number; trainCount: number; skipped: SkippedFile[] };
    const at = 4 + hl;
    if (h.v !== CACHE_VERSION || b.length !== at + h.pixels + 4 * h.n) return undefined;
    const pixels = new Uint8Array(b.buffer, b.byteOffset + at, h.pixels);
    const labels = new Int32Array(h.n);
    for (let i = 0; i < h.n; i++) labels[i] = b.readInt32LE(at + h.pixels + 4 * i);
    return { pixels, labels, trainCount: h.trainCount, skipped: h.skipped, fromCache: true };
  } catch {
    return undefined;
  }
}

/** Decoded bytes the addon is given to make at once (copied into the dataset's buffer, so memory stays bounded). */
const NATIVE_CHUNK_BYTES = 32 * 2 ** 20;

/**
 * The files the addon decodes itself (common PNGs already at the dataset's size; common JPEGs, shrunk and cropped as
 * sharp does for fit 'cover', or of the dataset's aspect ratio for any fit: no JavaScript or sharp per image),
 * into `pixels` and marked in `ok`; the rest are sharp's. Returns how many it decoded.
 */
async function decodeNatively(files: string[], o: FolderPlan, pixels: Uint8Array, ok: Uint8Array): Promise<number> {
  const per = o.shape.channels * o.shape.height * o.shape.width;
  const natives = files.flatMap((f, i) => (/\.(png|jpe?g)$/i.test(f) ? [i] : []));
  let done = 0;
  const step = Math.max(1, Math.floor(NATIVE_CHUNK_BYTES / per));
  for (let at = 0; at < natives.length; at += step) {
    const chunk = natives.slice(at, at + step);
    const r = await native().decodeImageFiles(chunk.map((i) => files[i]), o.shape.channels, o.shape.height, o.shape.width, o.maxPixels, o.fit === 'cover');
    chunk.forEach((i, k) => {
      if (!r.decoded[k]) return;
      pixels.set(r.pixels.subarray(k * per, (k + 1) * per), i * per);
      ok[i] = 1;
      done++;
    });
    if (done) o.onProgress?.({ done, total: files.length, skipped: 0 });
  }
  return done;
}

/** Decodes the folder (or reads its cache): the bytes and labels of every image, training images first. */
export async function decodeFolder(o: FolderPlan): Promise<DecodedFolder> {
  const { files, labels, trainCount } = plan(o);
  const per = o.shape.channels * o.shape.height * o.shape.width;
  if (files.length * per > o.maxBytes) {
    throw new RangeError(`${o.dir} holds ${files.length} images: ${files.length * per} bytes at ${o.shape.channels}×${o.shape.height}×${o.shape.width}, ` +
      `more than maxBytes ${o.maxBytes} (raise it to read them)`);
  }
  const cache = o.cacheDir ? cacheFile(o, files) : undefined;
  const cached = cache ? readCache(cache) : undefined;
  if (cached) return cached;
  const pixels = new Uint8Array(files.length * per);
  const ok = new Uint8Array(files.length);
  const skipped: SkippedFile[] = [];
  let done = await decodeNatively(files, o, pixels, ok);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      if (ok[i]) continue;
      try {
        pixels.set(await decodeImage(files[i], o.shape, o.fit, o.maxPixels), i * per);
        ok[i] = 1;
      } catch (e) {
        if (o.onError === 'throw') throw e;
        skipped.push({ file: files[i], reason: (e as Error).message });
      }
      done++;
      o.onProgress?.({ done, total: files.length, skipped: skipped.length });
    }
  };
  const failed: unknown[] = [];
  await Promise.all(Array.from({ length: Math.min(o.concurrency, files.length) }, () => worker().catch((e) => {
    failed.push(e);
    next = files.length; // the other workers stop at their next file
  })));
  if (failed.length) throw failed[0];
  // Skipped files leave holes: the images that decoded, moved up in order.
  let n = 0;
  let kept = 0;
  const outLabels = new Int32Array(files.length - skipped.length);
  for (let i = 0; i < files.length; i++) {
    if (!ok[i]) continue;
    if (n !== i) pixels.copyWithin(n * per, i * per, (i + 1) * per);
    outLabels[n++] = labels[i];
    if (i < trainCount) kept++;
  }
  skipped.sort((a, b) => (a.file < b.file ? -1 : 1));
  const out: DecodedFolder = { pixels: pixels.subarray(0, n * per), labels: outLabels, trainCount: kept, skipped, fromCache: false };
  if (cache) writeCache(cache, out);
  return out;
}

/** How many images to decode at once: a few per core (sharp's own thread pool does the work). */
export const DEFAULT_CONCURRENCY = Math.max(2, Math.min(16, (os.availableParallelism?.() ?? os.cpus().length) * 2));
