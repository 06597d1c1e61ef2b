// The PNG fast path (native/core/codecs/png.h): the common PNGs fromFolder decodes in the addon give exactly sharp's
// bytes, for every colour type it takes, colour and grey; everything it leaves to sharp (another size, 16 bits,
// interlacing, a colour profile, damage) is left, and still read (or refused) as sharp reads it.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ImageDataset } from '../lib/index';
import { native } from '../lib/base/native';
import { decodeImage } from '../lib/data/images';
import { chwOf, tmpDir } from './helpers';

const sharp = require('sharp') as typeof import('sharp');

/** Noise over gradients, so that every row filter an encoder picks has work to do. */
function pixels(side: number, channels: number, seed: number): Buffer {
  const b = Buffer.alloc(side * side * channels);
  let s = seed * 2654435761;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < channels; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        b[(y * side + x) * channels + c] = ((x * 7 + y * 3 + c * 50) + ((s >>> 16) % 40)) & 255;
      }
    }
  }
  return b;
}

const raw = (side: number, channels: 1 | 2 | 3 | 4, seed: number) =>
  sharp(pixels(side, channels, seed), { raw: { width: side, height: side, channels } });

/** Files of every kind, each with whether the fast path takes it at 16×16 (colour, grey). */
async function files(dir: string): Promise<{ file: string; colour: boolean; grey: boolean }[]> {
  const made: [string, Promise<unknown>, boolean, boolean][] = [
    ['grey.png', raw(16, 1, 1).toColourspace('b-w').png().toFile(path.join(dir, 'grey.png')), true, true],
    ['grey-alpha.png', raw(16, 2, 2).toColourspace('b-w').png().toFile(path.join(dir, 'grey-alpha.png')), true, true],
    ['rgb.png', raw(16, 3, 3).png({ adaptiveFiltering: true }).toFile(path.join(dir, 'rgb.png')), true, false],
    ['rgb-unfiltered.png', raw(16, 3, 4).png({ adaptiveFiltering: false, compressionLevel: 0 }).toFile(path.join(dir, 'rgb-unfiltered.png')), true, false],
    ['rgba.png', raw(16, 4, 5).png({ adaptiveFiltering: true }).toFile(path.join(dir, 'rgba.png')), true, false],
    ['palette.png', raw(16, 3, 6).png({ palette: true, colours: 200 }).toFile(path.join(dir, 'palette.png')), true, false],
    ['palette-alpha.png', raw(16, 4, 7).png({ palette: true }).toFile(path.join(dir, 'palette-alpha.png')), true, false],
    // Left to sharp: another size, 16 bits, interlacing, a colour profile.
    ['larger.png', raw(20, 3, 8).png().toFile(path.join(dir, 'larger.png')), false, false],
    ['rgb16.png', raw(16, 3, 9).toColourspace('rgb16').png().toFile(path.join(dir, 'rgb16.png')), false, false],
    ['interlaced.png', raw(16, 3, 10).png({ progressive: true }).toFile(path.join(dir, 'interlaced.png')), false, false],
    ['profile.png', raw(16, 3, 12).withIccProfile('p3').png().toFile(path.join(dir, 'profile.png')), false, false],
  ];
  await Promise.all(made.map(([, p]) => p));
  return made.map(([f, , colour, grey]) => ({ file: path.join(dir, f), colour, grey }));
}

/** A PNG file's IHDR colour type and bit depth. */
function kind(file: string): [number, number] {
  const b = fs.readFileSync(file);
  return [b[25], b[24]];
}

test('the fast path takes the common PNGs and gives sharp\'s bytes; it leaves the rest to sharp', async (t) => {
  const dir = tmpDir('png-fast-');
  const list = await files(dir);
  // The files are the kinds they are named for: grey 0, grey + alpha 4, RGB 2, RGBA 6, palette 3; 16 bits.
  t.deepEqual(['grey', 'grey-alpha', 'rgb', 'rgba', 'palette', 'palette-alpha', 'rgb16'].map((n) => kind(path.join(dir, `${n}.png`))),
    [[0, 8], [4, 8], [2, 8], [6, 8], [3, 8], [3, 8], [2, 16]]);
  for (const channels of [3, 1] as const) {
    const shape = { channels, height: 16, width: 16 };
    const r = await native().decodeImageFiles(list.map((f) => f.file), channels, 16, 16, 1e8, true);
    const per = 16 * 16 * channels;
    for (const [i, f] of list.entries()) {
      const name = `${path.basename(f.file)} at ${channels} channel(s)`;
      t.is(r.decoded[i] === 1, channels === 3 ? f.colour : f.grey, `${name}: taken by the fast path`);
      if (!r.decoded[i]) continue;
      const ours = Buffer.from(r.pixels.subarray(i * per, (i + 1) * per));
      t.true(ours.equals(await decodeImage(f.file, shape)), `${name}: sharp's bytes`);
    }
  }
});

test('a damaged or truncated PNG is left to sharp, which refuses it naming the file; fromFolder mixes both paths in order', async (t) => {
  const dir = tmpDir('png-damaged-');
  const good = await raw(16, 3, 20).png().toBuffer();
  const crc = Buffer.from(good);
  crc[good.length - 20] ^= 0x40; // inside the IDAT chunk: its CRC no longer holds
  const cut = good.subarray(0, good.length - 30);
  const adler = Buffer.from(good);
  // The zlib stream's Adler-32 is the 4 bytes before the IDAT chunk's CRC: change it and mend the CRC.
  const idatEnd = good.indexOf(Buffer.from('IEND')) - 4 - 4; // start of IDAT's CRC
  adler[idatEnd - 1] ^= 0x01;
  const start = good.indexOf(Buffer.from('IDAT'));
  const { crc32 } = require('node:zlib') as { crc32?: (b: Buffer) => number };
  if (crc32) adler.writeUInt32BE(crc32(adler.subarray(start, idatEnd)) >>> 0, idatEnd);
  // A PLTE after a tRNS in an RGB file: libspng refuses it, so the fast path must leave it.
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length);
    head.write(type, 4, 'latin1');
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32!(Buffer.concat([head.subarray(4), body])) >>> 0);
    return Buffer.concat([head, body, tail]);
  };
  const misplaced = crc32 ? Buffer.concat([good.subarray(0, 33), chunk('tRNS', Buffer.alloc(6)), chunk('PLTE', Buffer.alloc(3)), good.subarray(33)]) : undefined;
  const cases: [string, Buffer][] = [['crc.png', crc], ['truncated.png', cut],
    ...(crc32 ? [['adler.png', adler] as [string, Buffer], ['plte-after-trns.png', misplaced!] as [string, Buffer]] : [])];
  for (const [name, bytes] of cases) fs.writeFileSync(path.join(dir, name), bytes);
  const r = await native().decodeImageFiles(cases.map(([n]) => path.join(dir, n)), 3, 16, 16, 1e8, true);
  t.deepEqual(Array.from(r.decoded), cases.map(() => 0));
  for (const [name] of cases.filter(([n]) => n !== 'plte-after-trns.png')) {
    await t.throwsAsync(decodeImage(path.join(dir, name), { channels: 3, height: 16, width: 16 }), { message: new RegExp(`Cannot decode .*${name}`) });
  }
  // A folder of fast-path PNGs, files sharp decodes (JPEG, a larger PNG) and a skipped damaged file, in order.
  const root = path.join(dir, 'folder');
  for (const c of ['a', 'b']) fs.mkdirSync(path.join(root, c), { recursive: true });
  await raw(16, 3, 21).png().toFile(path.join(root, 'a', '1.png'));
  await raw(16, 3, 22).jpeg().toFile(path.join(root, 'a', '2.jpg'));
  await raw(24, 3, 23).png().toFile(path.join(root, 'b', '3.png'));
  await raw(16, 1, 24).png().toFile(path.join(root, 'b', '4.png'));
  fs.writeFileSync(path.join(root, 'b', '5.png'), crc);
  const { train, skipped } = await ImageDataset.fromFolder(root, { size: 16, onError: 'skip' });
  t.deepEqual(skipped.map((s) => path.basename(s.file)), ['5.png']);
  const { pixels: got, labels } = train.images(0, train.length);
  t.deepEqual(Array.from(labels), [0, 0, 1, 1]);
  const files4 = ['a/1.png', 'a/2.jpg', 'b/3.png', 'b/4.png'].map((f) => path.join(root, f));
  for (const [i, f] of files4.entries()) {
    const hwc = await decodeImage(f, { channels: 3, height: 16, width: 16 }, 'cover');
    t.true(chwOf(hwc, 3).equals(Buffer.from(got.subarray(i * 768, (i + 1) * 768))), path.basename(f));
  }
});
