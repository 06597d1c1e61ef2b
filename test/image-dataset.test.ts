// General image datasets: arrays in either layout, IDX files (the real Fashion-MNIST), grey networks trained on them,
// class names that travel with the checkpoint, and CIFAR-10 through the same native path with the same bits.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Cifar10, Cifar100, FASHION_MNIST_CLASSES, ImageDataset, ResNet, Trainer } from '../lib/index';
import { detectSource, loadSplit } from '../lib/data/sources';
import { anyCifarDir, FASHION_MNIST, tmpDir, withFashionMnist } from './helpers';

const GREY = { channels: 1, height: 8, width: 8 } as const;

/** N×C×H×W bytes of a simple pattern, and the same images as N×H×W×C. */
function pattern(n: number, c: number, h: number, w: number): { nchw: Uint8Array; nhwc: Uint8Array } {
  const nchw = new Uint8Array(n * c * h * w);
  const nhwc = new Uint8Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = (i * 31 + ch * 7 + y * 3 + x * 5) % 256;
          nchw[((i * c + ch) * h + y) * w + x] = v;
          nhwc[((i * h + y) * w + x) * c + ch] = v;
        }
      }
    }
  }
  return { nchw, nhwc };
}

/** An IDX file's bytes: the magic, big-endian dimensions, then the values. */
function idx(dims: number[], values: Uint8Array, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, values]);
}

test('fromArrays: NHWC and NCHW give the same images, labels and classes; images() returns them', async (t) => {
  const { nchw, nhwc } = pattern(6, 3, 10, 12);
  const labels = [0, 1, 2, 0, 1, 2];
  const classes = ['cat', 'dog', 'fish'];
  const a = await ImageDataset.fromArrays(nchw, labels, { shape: { channels: 3, height: 10, width: 12 }, layout: 'nchw', classes });
  const b = await ImageDataset.fromArrays(nhwc, Uint8Array.from(labels), { shape: { channels: 3, height: 10, width: 12 }, layout: 'nhwc', classes });
  t.deepEqual(a.shape, { channels: 3, height: 10, width: 12 });
  t.is(a.length, 6);
  t.deepEqual(a.classes, classes);
  t.deepEqual(a.images(0, 6).pixels, nchw);
  t.deepEqual(b.images(0, 6).pixels, nchw);
  t.deepEqual(Array.from(b.images(2, 3).labels), [2, 0, 1]);
  t.deepEqual(a.labelCounts(), [2, 2, 2]);
  t.is(a.slice(1, 3).length, 2);
  t.deepEqual(a.slice(1, 3).images(0, 1).pixels, nchw.subarray(360, 720));
  // Statistics of any shape: one mean per pixel of C×H×W, one mean and std per channel.
  t.is((await a.pixelMean()).length, 3 * 10 * 12);
  t.is((await a.channelStats()).mean.length, 3);
  nchw.fill(0); // the dataset holds its own copy
  t.not(a.images(0, 1).pixels[1], 0);
});

test('fromArrays refuses what does not fit, naming the option', async (t) => {
  const px = new Uint8Array(2 * 64);
  const ok = { shape: GREY, layout: 'nchw' as const, classes: ['a', 'b'] };
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 2], ok), { instanceOf: RangeError, message: 'Expected labels[1] to be an integer from 0 to 1 but received 2' });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1, 1], ok), { instanceOf: RangeError, message: /Expected pixels to hold 3 images of 1×8×8/ });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 0.5], ok), { instanceOf: RangeError });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1], { ...ok, classes: ['a'] }), { instanceOf: RangeError, message: /to hold 2 to 1000 names/ });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1], { ...ok, classes: ['a', 'a'] }), { message: /distinct/ });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1], { ...ok, shape: { channels: 2 as 1, height: 8, width: 4 } }), { message: /shape.channels/ });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1], { ...ok, shape: { channels: 1, height: 4, width: 16 } }), { instanceOf: RangeError, message: /shape.height/ });
  await t.throwsAsync(() => ImageDataset.fromArrays(px, [0, 1], { ...ok, layout: 'hwc' as 'nhwc' }), { instanceOf: RangeError, message: /layout/ });
  await t.throwsAsync(() => ImageDataset.fromArrays([1, 2] as unknown as Uint8Array, [0, 1], ok), { instanceOf: TypeError });
});

test('CIFAR-10 through fromArrays is the same dataset as Cifar10.load: same pixels, statistics and training batches', async (t) => {
  const cifar = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const { pixels, labels } = cifar.images(0, 2000);
  const arrays = await ImageDataset.fromArrays(pixels, labels, { shape: { channels: 3, height: 32, width: 32 }, layout: 'nchw', classes: cifar.classes });
  const part = cifar.slice(0, 2000);
  t.deepEqual(await arrays.pixelMean(), await part.pixelMean());
  const trainer = new Trainer(new ResNet({ depth: 8, device: 'cpu' }), { batchSize: 50, seed: 3 });
  for (const it of [0, 17]) {
    const [a, b] = [await trainer.trainingBatch(arrays, it), await trainer.trainingBatch(part, it)];
    t.deepEqual(a.input, b.input);
    t.deepEqual(a.index, b.index);
  }
});

test('augment: padCrop 0 and flip false give the images themselves, normalized; padCrop changes the offsets drawn', async (t) => {
  const { nchw } = pattern(40, 1, 16, 16);
  const data = await ImageDataset.fromArrays(nchw, Array.from({ length: 40 }, (_, i) => i % 2), { shape: { channels: 1, height: 16, width: 16 }, layout: 'nchw', classes: ['even', 'odd'] });
  const model = new ResNet({ depth: 8, inChannels: 1, device: 'cpu' });
  const normalization = { kind: 'channel' as const, mean: [0.5], std: [0.25] };
  const plain = await new Trainer(model, { batchSize: 8, augment: { padCrop: 0, flip: false }, normalization }).trainingBatch(data, 2);
  for (let i = 0; i < 8; i++) {
    t.is(plain.dy[i] + plain.dx[i] + plain.flip[i], 0);
    for (let p = 0; p < 256; p++) {
      const want = (nchw[plain.index[i] * 256 + p] / 255 - 0.5) / 0.25;
      if (Math.abs(plain.input[i * 256 + p] - want) > 1e-6) return t.fail(`image ${i} pixel ${p}`);
    }
  }
  const wide = await new Trainer(model, { batchSize: 40, augment: { padCrop: 6 }, normalization }).trainingBatch(data, 0);
  t.true(Math.max(...wide.dy, ...wide.dx) > 8 && Math.max(...wide.dy, ...wide.dx) <= 12);
  t.true(wide.flip.some((f) => f === 1));
  t.throws(() => new Trainer(model, { augment: { padCrop: -1 } }), { instanceOf: RangeError, message: /augment.padCrop/ });
  t.throws(() => new Trainer(model, { augment: { flop: true } as object }), { instanceOf: TypeError, message: /Unknown option 'flop'/ });
  model.dispose();
});

test('a network, its data and its normalization must agree on channels and size', async (t) => {
  const { nchw } = pattern(8, 1, 28, 28);
  const grey = await ImageDataset.fromArrays(nchw, [0, 1, 0, 1, 0, 1, 0, 1], { shape: { channels: 1, height: 28, width: 28 }, layout: 'nchw', classes: ['a', 'b'] });
  // A colour network takes grey images (their channel repeated: test/fine-tune.test.ts), with colour statistics.
  const colour = new ResNet({ depth: 8, numClasses: 2, device: 'cpu' });
  await t.throwsAsync(() => colour.evaluate(grey, { normalization: { kind: 'channel', mean: [0.5], std: [0.5] } }), {
    instanceOf: RangeError, message: 'Cannot evaluate on this dataset: the normalization has 1 channel(s) but the network takes 3',
  });
  t.is((await colour.evaluate(grey, { normalization: { kind: 'channel', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } })).count, 8);
  const m = new ResNet({ depth: 8, numClasses: 2, inChannels: 1, device: 'cpu' });
  const colourImages = await ImageDataset.fromArrays(pattern(4, 3, 28, 28).nchw, [0, 1, 0, 1], { shape: { channels: 3, height: 28, width: 28 }, layout: 'nchw', classes: ['a', 'b'] });
  await t.throwsAsync(() => new Trainer(m, { iterations: 1, batchSize: 4 }).fit(colourImages), {
    instanceOf: RangeError, message: "Expected a model of 3 input channel(s) for this dataset's 3×28×28 images but it has 1",
  });
  const cifarMean = { kind: 'pixel' as const, mean: new Float32Array(3072) };
  await t.throwsAsync(() => m.evaluate(grey, { normalization: cifarMean }), { message: /the normalization has 3 channel\(s\) but the network takes 1/ });
  await t.throwsAsync(() => m.evaluate(grey, { normalization: { kind: 'pixel', mean: new Float32Array(32 * 32) } }), {
    message: 'Cannot evaluate on this dataset: the per-pixel mean is of 1×32×32 images but these are 1×28×28',
  });
  const e = await m.evaluate(grey, { normalization: { kind: 'pixel', mean: await grey.pixelMean() } });
  t.is(e.count, 8);
  // A non-square per-pixel mean says its shape, and keeps it through a checkpoint.
  const wide = pattern(4, 1, 8, 12);
  const rect = await ImageDataset.fromArrays(wide.nchw, [0, 1, 0, 1], { shape: { channels: 1, height: 8, width: 12 }, layout: 'nchw', classes: ['a', 'b'] });
  const h = await new Trainer(m, { iterations: 2, batchSize: 4, milestones: [] }).fit(rect);
  t.deepEqual(h.normalization.kind === 'pixel' && h.normalization.shape, [1, 8, 12]);
  const file = path.join(tmpDir(), 'rect.pt');
  await m.save(file);
  const back = await ResNet.load(file, { device: 'cpu' });
  t.deepEqual(back.normalization, h.normalization);
  t.is(back.config.inChannels, 1);
  colour.dispose();
  m.dispose();
  back.dispose();
});

test('loadIdx reads plain and gzip IDX files and refuses bad ones, naming the file', async (t) => {
  const dir = tmpDir();
  const f = (name: string, bytes: Buffer) => {
    fs.writeFileSync(path.join(dir, name), bytes);
    return path.join(dir, name);
  };
  const { nchw } = pattern(5, 1, 9, 9);
  const images = f('images', idx([5, 9, 9], nchw));
  const imagesGz = f('images.gz', zlib.gzipSync(idx([5, 9, 9], nchw)));
  const labels = f('labels.gz', zlib.gzipSync(idx([5], Uint8Array.of(0, 3, 1, 2, 3))));
  const a = await ImageDataset.loadIdx(images, labels);
  const b = await ImageDataset.loadIdx(imagesGz, labels, { classes: ['w', 'x', 'y', 'z'] });
  t.deepEqual(a.shape, { channels: 1, height: 9, width: 9 });
  t.deepEqual(a.classes, ['0', '1', '2', '3']);
  t.deepEqual(b.classes, ['w', 'x', 'y', 'z']);
  t.deepEqual(a.images(0, 5).pixels, nchw);
  t.deepEqual(b.images(0, 5).pixels, nchw);
  t.deepEqual(Array.from(a.images(0, 5).labels), [0, 3, 1, 2, 3]);

  const bad = async (name: string, bytes: Buffer, message: RegExp, other = labels, options = {}) => {
    const file = f(name, bytes);
    await t.throwsAsync(() => ImageDataset.loadIdx(file, other, options), { message }, name);
  };
  await bad('short', idx([5, 9, 9], nchw.subarray(0, 400)), /short as an IDX file: it ends after 400 of the 405 values its header declares/);
  await bad('long', Buffer.concat([idx([5, 9, 9], nchw), Buffer.from([1])]), /long as an IDX file: it holds more bytes than its header declares/);
  await bad('magic', Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 7]), /magic as an IDX file: not an IDX file/);
  await bad('floats', idx([1], Uint8Array.of(0, 0, 0, 0), 0x0d), /floats as an IDX file: its values are of IDX type 0x0d/);
  await bad('huge', idx([60000, 65536, 65536], new Uint8Array(16)), /huge as an IDX file: its header declares more than 2147483648 bytes/);
  await bad('limit', idx([5, 9, 9], nchw), /more than 100 bytes of values \(the limit; raise maxBytes/, labels, { maxBytes: 100 });
  await bad('head', Buffer.from([0, 0, 8, 3, 0, 0]), /head as an IDX file: it ends inside its header/);
  await bad('zero-dim', idx([0, 9, 9], new Uint8Array(0)), /its dimension 0 is 0/);
  await bad('flat', idx([405], nchw), /flat holds 1-dimensional values; an IDX image file holds N x H x W grey images/);
  await bad('tiny', idx([5, 4, 4], new Uint8Array(80)), /images of 1x4x4/);
  const gz = zlib.gzipSync(idx([5, 9, 9], nchw));
  gz[gz.length - 6] ^= 0xff; // the CRC-32 in the trailer
  await bad('damaged.gz', gz, /damaged.gz as an IDX file: gzip checksum mismatch/);
  await bad('cut.gz', zlib.gzipSync(idx([5, 9, 9], nchw)).subarray(0, 40), /cut.gz as an IDX file: /);
  await bad('images-for-6', idx([6, 9, 9], new Uint8Array(486)), /labels.gz holds 5 labels but .*images-for-6 holds 6 images/);
  const far = f('far-labels', idx([5], Uint8Array.of(0, 1, 2, 3, 9)));
  await t.throwsAsync(() => ImageDataset.loadIdx(images, far, { classes: ['a', 'b', 'c', 'd'] }), { message: /label 9 of image 4 is outside 0..3/ });
  await t.throwsAsync(() => ImageDataset.loadIdx(path.join(dir, 'missing'), labels), { message: /missing/ });
});

withFashionMnist()('the real Fashion-MNIST: 60,000 + 10,000 grey 28×28 images; a grey ResNet-20 learns it, its class names travel', async (t) => {
  const dir = FASHION_MNIST!;
  const train = await ImageDataset.loadMnist(dir, { classes: FASHION_MNIST_CLASSES });
  const test_ = await ImageDataset.loadMnist(dir, { split: 'test', classes: FASHION_MNIST_CLASSES });
  t.is(train.length, 60_000);
  t.is(test_.length, 10_000);
  t.deepEqual(train.shape, { channels: 1, height: 28, width: 28 });
  t.deepEqual(train.labelCounts(), Array(10).fill(6000));
  t.deepEqual(test_.labelCounts(), Array(10).fill(1000));
  t.is(test_.split, 'test');
  // The gzip file and its inflated copy read alike.
  const plain = path.join(tmpDir(), 't10k-labels-idx1-ubyte');
  fs.writeFileSync(plain, zlib.gunzipSync(fs.readFileSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'))));
  const again = await ImageDataset.loadIdx(path.join(dir, 't10k-images-idx3-ubyte.gz'), plain);
  t.deepEqual(again.images(9990, 10), test_.images(9990, 10));

  // 150 iterations of a grey ResNet-20 from scratch (no flips: the classes' shapes are not mirror-symmetric in
  // general): far below the 90 % error of chance (about 20 % here).
  const model = new ResNet({ depth: 20, inChannels: 1, seed: 0, device: 'cpu' });
  const history = await new Trainer(model, { iterations: 150, milestones: [120], augment: { flip: false } }).fit(train);
  const e = await model.evaluate(test_);
  t.log(`Fashion-MNIST test error after 150 iterations: ${e.error.toFixed(2)} % (${history.seconds.toFixed(1)} s)`);
  t.true(e.error < 40, `test error ${e.error}`);
  t.deepEqual(model.classNames, FASHION_MNIST_CLASSES);
  t.deepEqual(e.perClass.map((c) => c.name), FASHION_MNIST_CLASSES);
  const file = path.join(tmpDir(), 'fashion.safetensors');
  await model.save(file);
  const back = await ResNet.load(file, { device: 'cpu' });
  t.deepEqual(back.classNames, FASHION_MNIST_CLASSES);
  t.is(back.config.inChannels, 1);
  t.is((await back.evaluate(test_)).error, e.error);
  model.dispose();
  back.dispose();
});

// No copy of the real CIFAR-100 is reachable from the machines this is built on: its reader is tested on files written
// in its documented binary format (and as the archive), with CIFAR-10's pixels under made-up fine and coarse labels.
test('CIFAR-100: train.bin / test.bin with fine or coarse labels and their names, from the folder or the .tar.gz', async (t) => {
  const cifar = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const n = 300;
  const { pixels } = cifar.images(0, n);
  const fine = (i: number) => (i * 7) % 100;
  const coarse = (i: number) => fine(i) % 20;
  const records = (from: number, count: number) => {
    const b = Buffer.alloc(count * 3074);
    for (let i = 0; i < count; i++) {
      b[i * 3074] = coarse(from + i);
      b[i * 3074 + 1] = fine(from + i);
      b.set(pixels.subarray((from + i) * 3072, (from + i + 1) * 3072), i * 3074 + 2);
    }
    return b;
  };
  const root = tmpDir();
  const dir = path.join(root, 'cifar-100-binary');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'train.bin'), records(0, 200));
  fs.writeFileSync(path.join(dir, 'test.bin'), records(200, 100));
  fs.writeFileSync(path.join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n') + '\n');
  const archive = path.join(root, 'cifar-100-binary.tar.gz');
  execFileSync('tar', ['czf', archive, '-C', root, 'cifar-100-binary']);
  for (const source of [root, dir, archive]) {
    const train = await Cifar100.load(source);
    const test_ = await Cifar100.load(source, { split: 'test', labels: 'coarse' });
    t.is(train.length, 200, source);
    t.is(train.classes.length, 100);
    t.is(train.classes[42], 'fine42');
    t.is(test_.classes[7], 'coarse7');
    t.deepEqual(train.images(0, 200).pixels, pixels.subarray(0, 200 * 3072));
    t.deepEqual(test_.images(0, 100).pixels, pixels.subarray(200 * 3072, n * 3072));
    t.deepEqual(Array.from(train.images(0, 5).labels), [0, 1, 2, 3, 4].map(fine));
    t.deepEqual(Array.from(test_.images(0, 5).labels), [200, 201, 202, 203, 204].map(coarse));
    t.is(detectSource(source), 'cifar100');
    t.is((await loadSplit(source, 'test')).classes.length, 100);
  }
  // A 100-class network trains on it as on any dataset.
  const train = await Cifar100.load(dir);
  const m = new ResNet({ depth: 8, numClasses: 100, device: 'cpu' });
  const h = await new Trainer(m, { iterations: 2, batchSize: 50, milestones: [] }).fit(train);
  t.is(h.iterations, 2);
  t.deepEqual(m.classNames.slice(0, 2), ['fine0', 'fine1']);
  m.dispose();
  // Damaged files, each refused naming the file.
  const bad = path.join(root, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'train.bin'), records(0, 3).subarray(0, 3074 * 3 - 1));
  await t.throwsAsync(() => Cifar100.load(bad), { message: /bad\/train.bin has 9221 bytes, expected a whole number of records of 3074 bytes/ });
  const far = records(0, 3);
  far[3074 + 1] = 100;
  fs.writeFileSync(path.join(bad, 'train.bin'), far);
  await t.throwsAsync(() => Cifar100.load(bad), { message: /train.bin: record 1 has label 100 \(expected 0-99\)/ });
  far[3074 + 1] = 99;
  far[3074] = 20;
  fs.writeFileSync(path.join(bad, 'train.bin'), far);
  await t.notThrowsAsync(() => Cifar100.load(bad, { labels: 'fine' }));
  await t.throwsAsync(() => Cifar100.load(bad, { labels: 'coarse' }), { message: /record 1 has label 20 \(expected 0-19\)/ });
  fs.writeFileSync(path.join(bad, 'coarse_label_names.txt'), 'a\nb\n');
  fs.writeFileSync(path.join(bad, 'train.bin'), records(0, 3));
  await t.throwsAsync(() => Cifar100.load(bad, { labels: 'coarse' }), { message: /coarse_label_names.txt lists 2 class names, expected 20/ });
  await t.throwsAsync(() => Cifar100.load(bad, { split: 'test' }), { message: /test.bin is missing/ });
});
