// The JPEG fast path (native/core/codecs/jpeg.h + native/core/data/sharp_resize.h): the common JPEGs fromFolder
// decodes in the addon, shrunk to the dataset's size, give exactly sharp's bytes (its shrink-on-load, libvips's
// Lanczos3 reduce, fit 'cover''s centre crop) for baseline and progressive files, every chroma subsampling, grey and
// colour, at many sizes and aspect ratios; everything it leaves to sharp (a colour profile, an EXIF rotation, CMYK,
// an upscale, damage, another aspect ratio at another fit) is left, and still read (or refused) as sharp reads it.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ImageDataset } from '../lib/index';
import { native } from '../lib/base/native';
import { decodeImage } from '../lib/data/images';
import { chwOf, tmpDir } from './helpers';

const sharp = require('sharp') as typeof import('sharp');

/** Smooth gradients with noise: what a photo's blocks hold (every DCT coefficient has work to do). */
function photo(width: number, height: number, seed: number): import('sharp').Sharp {
  const b = Buffer.alloc(width * height * 3);
  let s = seed * 2654435761;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        b[(y * width + x) * 3 + c] = Math.round(128 + 100 * Math.sin((x * (c + 1)) / 9 + y / 13 + seed) + ((s >>> 16) % 24) - 12) & 255;
      }
    }
  }
  return sharp(b, { raw: { width, height, channels: 3 } });
}

type Encode = (img: import('sharp').Sharp) => import('sharp').Sharp;
const ENCODINGS: [string, Encode][] = [
  ['420', (i) => i.jpeg({ quality: 90 })],
  ['444', (i) => i.jpeg({ quality: 90, chromaSubsampling: '4:4:4' })],
  ['progressive', (i) => i.jpeg({ quality: 75, progressive: true })],
  ['mozjpeg', (i) => i.jpeg({ quality: 60, mozjpeg: true })],
  ['grey', (i) => i.toColourspace('b-w').jpeg({ quality: 90 })],
];

async function compare(t: import('ava').ExecutionContext, files: string[], channels: 1 | 3, height: number, width: number,
  fit: 'cover' | 'fill' = 'cover') {
  const r = await native().decodeImageFiles(files, channels, height, width, 1e8, fit === 'cover');
  const per = height * width * channels;
  let taken = 0;
  for (const [i, f] of files.entries()) {
    if (!r.decoded[i]) continue;
    taken++;
    const ours = Buffer.from(r.pixels.subarray(i * per, (i + 1) * per));
    const theirs = await decodeImage(f, { channels, height, width }, fit);
    t.true(ours.equals(theirs), `${path.basename(f)} to ${channels}×${height}×${width} (${fit}): sharp's bytes`);
  }
  return { taken, decoded: Array.from(r.decoded) };
}

test('the fast path takes common JPEGs and gives sharp\'s bytes after its resize (and fit \'cover\'\'s crop)', async (t) => {
  const dir = tmpDir('jpeg-fast-');
  // [source side(s), target side(s)]: the 256 → 32 of the benchmark, shrink-on-load at 1/2, 1/4 and 1/8, odd sizes
  // (libjpeg's scaled size rounded down as jpegload does), a reduce with no shrink-on-load, one already the size;
  // then photos' aspect ratios (4:3, 3:2, portrait), which 'cover' crops at the centre.
  const sizes: [number, number, number, number][] = [
    [256, 256, 32, 32], [512, 512, 32, 32], [257, 257, 32, 32], [130, 130, 32, 32], [97, 97, 32, 32],
    [64, 64, 32, 32], [48, 48, 32, 32], [32, 32, 32, 32], [240, 160, 48, 32], [300, 150, 64, 32], [1024, 1024, 64, 64],
    [640, 480, 32, 32], [480, 640, 32, 32], [600, 400, 64, 64], [90, 60, 32, 32], [40, 32, 32, 32],
    // reduce factors libvips's summed positions make inexact (its tiles of 10 rows, the crop's first column)
    [200, 200, 24, 24], [500, 375, 32, 32], [333, 500, 40, 40], [1000, 750, 64, 48], [250, 250, 100, 100],
  ];
  const files: string[] = [];
  for (const [k, [w, h]] of sizes.entries()) {
    for (const [name, encode] of ENCODINGS) {
      const file = path.join(dir, `${w}x${h}-${name}.jpg`);
      await encode(photo(w, h, k)).toFile(file);
      files.push(file);
    }
  }
  for (const [w, h, ow, oh] of sizes) {
    const mine = files.filter((f) => path.basename(f).startsWith(`${w}x${h}-`));
    const colour = await compare(t, mine, 3, oh, ow);
    t.is(colour.taken, mine.length, `every ${w}×${h} JPEG to 3×${oh}×${ow} is taken`);
    // Another fit: the same bytes where the aspect ratios agree after the load (square ones always do); the rest
    // left to sharp.
    const fill = await compare(t, mine, 3, oh, ow, 'fill');
    if (w === h && ow === oh) t.is(fill.taken, mine.length, `${w}×${h} to 3×${oh}×${ow}, fit 'fill'`);
    if (w * oh !== h * ow) t.is(fill.taken, 0, `${w}×${h} to 3×${oh}×${ow}, fit 'fill': sharp's`);
    const grey = await compare(t, mine, 1, oh, ow);
    t.deepEqual(grey.decoded, mine.map((f) => (f.endsWith('-grey.jpg') ? 1 : 0)), `${w}×${h} to 1×${oh}×${ow}: grey JPEGs only`);
  }
});

test('JPEGs the fast path leaves to sharp: a profile, an EXIF rotation, CMYK, an upscale, damage', async (t) => {
  const dir = tmpDir('jpeg-left-');
  const base = () => photo(64, 64, 3);
  const good = await base().jpeg().toBuffer();
  // EXIF with orientation 1 (sharp writes no profile with withExif), and the same file turned to orientation 6 in place.
  const upright = await base().withExif({ IFD0: { Orientation: '1', Copyright: 'resnet-cifar' } }).jpeg().toBuffer();
  const rotated = Buffer.from(upright);
  const entry = rotated.indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00])); // little-endian IFD entry
  rotated[entry + 8] = 6;
  const cases: [string, Buffer, boolean][] = [
    ['plain.jpg', good, true],
    ['exif-upright.jpg', upright, true],
    ['exif-rotated.jpg', rotated, false],
    ['profile.jpg', await base().withIccProfile('p3').jpeg().toBuffer(), false],
    ['cmyk.jpg', await base().toColourspace('cmyk').jpeg().toBuffer(), false],
    ['wide.jpg', await photo(80, 64, 4).jpeg().toBuffer(), true], // 'cover' crops it (at 'fill', it is sharp's)
    ['small.jpg', await photo(16, 16, 5).jpeg().toBuffer(), false],
    ['truncated.jpg', good.subarray(0, Math.floor(good.length * 0.7)), false],
    ['garbage-inside.jpg', Buffer.concat([good.subarray(0, good.length - 200), Buffer.alloc(100, 0x55), good.subarray(good.length - 100)]), false],
    ['not-a-jpeg.jpg', Buffer.from('\xff\xd8\xffnot really'), false],
  ];
  t.true(entry > 0, 'the EXIF orientation entry found');
  for (const [name, bytes] of cases) fs.writeFileSync(path.join(dir, name), bytes);
  t.is((await sharp(path.join(dir, 'exif-rotated.jpg')).metadata()).orientation, 6);
  const { decoded } = await compare(t, cases.map(([n]) => path.join(dir, n)), 3, 32, 32);
  t.deepEqual(decoded, cases.map(([, , taken]) => (taken ? 1 : 0)));
  // What sharp makes of those: it reads the rotated, profiled, CMYK and small ones; it refuses the damaged ones.
  for (const name of ['exif-rotated.jpg', 'profile.jpg', 'cmyk.jpg', 'small.jpg']) {
    t.is((await decodeImage(path.join(dir, name), { channels: 3, height: 32, width: 32 }, 'cover')).length, 3072, name);
  }
  for (const name of ['truncated.jpg', 'not-a-jpeg.jpg']) {
    await t.throwsAsync(decodeImage(path.join(dir, name), { channels: 3, height: 32, width: 32 }), { message: new RegExp(`Cannot decode .*${name}`) });
  }
  // A header that declares 65,500 × 65,500 pixels: over the limit, never allocated; sharp refuses it too.
  const huge = Buffer.from(good);
  const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
  huge.writeUInt16BE(65500, sof + 5);
  huge.writeUInt16BE(65500, sof + 7);
  const hugeFile = path.join(dir, 'huge.jpg');
  fs.writeFileSync(hugeFile, huge);
  t.deepEqual(Array.from((await native().decodeImageFiles([hugeFile], 3, 32, 32, 1e8, true)).decoded), [0]);
  await t.throwsAsync(decodeImage(hugeFile, { channels: 3, height: 32, width: 32 }, 'cover', 1e8), { message: /Cannot decode .*huge\.jpg.*pixel limit/ });
});

test('fromFolder decodes a folder of JPEGs through the fast path with sharp\'s bytes, sharp taking the rest in order', async (t) => {
  const root = tmpDir('jpeg-folder-');
  for (const c of ['a', 'b']) fs.mkdirSync(path.join(root, c), { recursive: true });
  await photo(128, 128, 30).jpeg().toFile(path.join(root, 'a', '1.jpg'));
  await photo(96, 64, 31).jpeg().toFile(path.join(root, 'a', '2.jpg')); // another aspect ratio, cropped
  await photo(128, 128, 32).withMetadata({ orientation: 3 }).jpeg().toFile(path.join(root, 'b', '3.jpeg'));
  await photo(256, 256, 33).jpeg({ progressive: true }).toFile(path.join(root, 'b', '4.JPG'));
  const { train } = await ImageDataset.fromFolder(root, { size: 32, fit: 'cover' });
  const { pixels: got, labels } = train.images(0, train.length);
  t.deepEqual(Array.from(labels), [0, 0, 1, 1]);
  for (const [i, f] of ['a/1.jpg', 'a/2.jpg', 'b/3.jpeg', 'b/4.JPG'].entries()) {
    const hwc = await decodeImage(path.join(root, f), { channels: 3, height: 32, width: 32 }, 'cover');
    t.true(chwOf(hwc, 3).equals(Buffer.from(got.subarray(i * 3072, (i + 1) * 3072))), f);
  }
});
