// Image folders (ImageDataset.fromFolder): the CIFAR-10 test set written as PNG files in class folders reads back as
// exactly the binary files' pixels and evaluates to exactly the same error; JPEG and WebP copies within a stated
// distance; the cache, the validation split, and bad files, each refused naming the file or skipped and counted.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ImageDataset, ResNet } from '../lib/index';
import { anyCifarDir, REAL_CIFAR, tmpDir, withRealCifar } from './helpers';

const sharp = require('sharp') as typeof import('sharp');

/** Image i of a CIFAR-10 split as an interleaved RGB sharp image. */
function rgb(pixels: Uint8Array, i: number) {
  const hwc = Buffer.alloc(3072);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = pixels[i * 3072 + c * 1024 + p];
  return sharp(hwc, { raw: { width: 32, height: 32, channels: 3 } });
}

/** The split written as dir/<class>/<index>.<ext>, `concurrency` files at a time. */
async function writeFolder(data: ImageDataset, dir: string, ext: 'png' | 'jpg' | 'webp', side = 32): Promise<void> {
  const { pixels, labels } = data.images(0, data.length);
  for (const c of data.classes) fs.mkdirSync(path.join(dir, c), { recursive: true });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < data.length; i = next++) {
      const file = path.join(dir, data.classes[labels[i]], `${String(i).padStart(5, '0')}.${ext}`);
      const img = side === 32 ? rgb(pixels, i) : rgb(pixels, i).resize(side, side, { kernel: 'cubic' });
      await (ext === 'png' ? img.png() : ext === 'jpg' ? img.jpeg({ quality: 90 }) : img.webp({ quality: 90 })).toFile(file);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** The dataset's images in folder order: by class, then by index (the files' names). */
function folderOrder(data: Cifar10): number[] {
  const { labels } = data.images(0, data.length);
  return Array.from({ length: data.length }, (_, i) => i).sort((a, b) => labels[a] - labels[b] || a - b);
}

withRealCifar()('the CIFAR-10 test set as PNG class folders: exactly the binary pixels and labels, the shipped resnet20\'s exact error; JPEG 64×64 and WebP near it; a second load from the cache', async (t) => {
  const data = await Cifar10.load(REAL_CIFAR!, { split: 'test' });
  const root = tmpDir();
  const png = path.join(root, 'png');
  await writeFolder(data, png, 'png');
  const progress: number[] = [];
  const t0 = Date.now();
  const { train: folder, validation, skipped, fromCache } = await ImageDataset.fromFolder(png, { cache: path.join(root, 'cache'), onProgress: (p) => progress.push(p.done) });
  const firstMs = Date.now() - t0;
  t.is(validation, undefined);
  t.deepEqual(skipped, []);
  t.false(fromCache);
  t.is(progress.at(-1), 10_000);
  t.deepEqual(folder.classes, data.classes);
  t.deepEqual(folder.shape, { channels: 3, height: 32, width: 32 });
  const order = folderOrder(data);
  const want = data.images(0, data.length);
  const got = folder.images(0, folder.length);
  let mismatched = 0;
  order.forEach((src, k) => {
    if (got.labels[k] !== want.labels[src]) mismatched++;
    else if (Buffer.compare(Buffer.from(got.pixels.subarray(k * 3072, (k + 1) * 3072)), Buffer.from(want.pixels.subarray(src * 3072, (src + 1) * 3072))) !== 0) mismatched++;
  });
  t.is(mismatched, 0, 'images whose pixels or label differ from the binary file\'s');

  const m = await ResNet.pretrained('resnet20', { device: 'cpu' });
  const binary = await m.evaluate(data);
  const fromPng = await m.evaluate(folder);
  t.is(fromPng.error, binary.error);
  t.deepEqual(fromPng.perClass, binary.perClass);

  // The same files again, with the same options: the decoded bytes come from the cache.
  const t1 = Date.now();
  const again = await ImageDataset.fromFolder(png, { cache: path.join(root, 'cache') });
  const cachedMs = Date.now() - t1;
  t.true(again.fromCache);
  t.deepEqual(again.train.images(0, 50), folder.images(0, 50));
  t.log(`10,000 PNGs: decoded in ${firstMs} ms, from the cache in ${cachedMs} ms`);

  // Lossy copies, upscaled JPEG (64×64, quality 90, resized back on load) and WebP (quality 90): within 4 points of
  // the binary error (measured: JPEG 64×64 +2.8, see docs/results.md).
  for (const [ext, side] of [['jpg', 64], ['webp', 32]] as const) {
    const dir = path.join(root, ext);
    await writeFolder(data, dir, ext, side);
    const lossy = (await ImageDataset.fromFolder(dir, { fit: 'fill' })).train;
    const e = await m.evaluate(lossy);
    t.log(`${ext} ${side}×${side}: test error ${e.error.toFixed(2)} % (binary ${binary.error.toFixed(2)} %)`);
    t.true(Math.abs(e.error - binary.error) < 4, `${ext}: ${e.error} vs ${binary.error}`);
  }
  m.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

test('fromFolder: sizes, grey, class order, a seeded per-class validation split, and bad folders refused or skipped', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const small = data.slice(0, 200);
  const root = tmpDir();
  const dir = path.join(root, 'photos');
  await writeFolder(small, dir, 'png');
  const grey = await ImageDataset.fromFolder(dir, { size: { width: 24, height: 16 }, grayscale: true, classes: ['truck', 'airplane', 'cat', 'dog', 'bird', 'automobile', 'deer', 'frog', 'horse', 'ship'] });
  t.deepEqual(grey.train.shape, { channels: 1, height: 16, width: 24 });
  t.is(grey.train.classes[0], 'truck');
  t.is(grey.train.labelCounts()[0], small.labelCounts()[9]);
  const split = await ImageDataset.fromFolder(dir, { validation: { fraction: 0.25, seed: 3 } });
  const again = await ImageDataset.fromFolder(dir, { validation: { fraction: 0.25, seed: 3 } });
  const other = await ImageDataset.fromFolder(dir, { validation: { fraction: 0.25, seed: 4 } });
  t.is(split.train.length + split.validation!.length, 200);
  t.is(split.validation!.split, 'validation');
  small.labelCounts().forEach((c, k) => t.is(split.validation!.labelCounts()[k], Math.round(c * 0.25)));
  t.deepEqual(again.validation!.images(0, 10), split.validation!.images(0, 10));
  t.notDeepEqual(other.validation!.images(0, split.validation!.length).pixels, split.validation!.images(0, split.validation!.length).pixels);

  // A symlink loop inside a class folder ends where it starts; a text file is ignored; a corrupt image is an error
  // naming it, or with onError 'skip' left out and listed.
  fs.symlinkSync(path.join(dir, 'cat'), path.join(dir, 'cat', 'loop'));
  fs.writeFileSync(path.join(dir, 'cat', 'notes.txt'), 'not an image');
  t.is((await ImageDataset.fromFolder(dir)).train.length, 200);
  const broken = path.join(dir, 'dog', 'broken.png');
  fs.writeFileSync(broken, fs.readFileSync(path.join(dir, 'dog', fs.readdirSync(path.join(dir, 'dog'))[0])).subarray(0, 60));
  await t.throwsAsync(() => ImageDataset.fromFolder(dir), { message: new RegExp(`Cannot decode ${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} as an image`) });
  const skipping = await ImageDataset.fromFolder(dir, { onError: 'skip' });
  t.is(skipping.train.length, 200);
  t.is(skipping.skipped.length, 1);
  t.is(skipping.skipped[0].file, broken);
  fs.rmSync(broken);
  // A decompression bomb: more pixels than maxPixels allows is refused before it is decoded.
  await t.throwsAsync(() => ImageDataset.fromFolder(dir, { maxPixels: 500 }), { message: /Cannot decode .* as an image: Input image exceeds pixel limit/ });
  // More decoded bytes than maxBytes allows is refused before anything is decoded.
  await t.throwsAsync(() => ImageDataset.fromFolder(dir, { maxBytes: 1000 }), { instanceOf: RangeError, message: /holds 200 images: 614400 bytes .* more than maxBytes 1000/ });
  fs.mkdirSync(path.join(dir, 'empty'));
  await t.throwsAsync(() => ImageDataset.fromFolder(dir), { message: /empty \(class 'empty'\) holds no image files/ });
  await t.throwsAsync(() => ImageDataset.fromFolder(dir, { classes: ['cat', 'unicorn'] }), { message: /has no folder for class unicorn/ });
  await t.throwsAsync(() => ImageDataset.fromFolder(dir, { validation: { fraction: 1 } }), { instanceOf: RangeError, message: /validation.fraction/ });
  await t.throwsAsync(() => ImageDataset.fromFolder(path.join(dir, 'cat', 'missing')), { message: /is not a folder/ });
  fs.rmSync(root, { recursive: true, force: true });
});
