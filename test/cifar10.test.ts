import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, CIFAR10_FILE_BYTES, ResNet } from '../lib/index';
import { cifarDir, REAL_CIFAR, tmpDir, withRealCifar } from './helpers';

/** A small fake CIFAR-10 folder: full-size files with generated content (label i % 10). */
function fakeCifar(opts: { truncate?: string; badLabel?: boolean } = {}): string {
  const dir = tmpDir('fake-cifar-');
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    const b = Buffer.alloc(CIFAR10_FILE_BYTES);
    for (let r = 0; r < 10_000; r++) {
      b[r * 3073] = r % 10;
      b.fill((r * 7) % 256, r * 3073 + 1, (r + 1) * 3073);
    }
    if (opts.badLabel && f === 'test_batch.bin') b[5 * 3073] = 200;
    fs.writeFileSync(path.join(dir, f), opts.truncate === f ? b.subarray(0, b.length - 1) : b);
  }
  fs.writeFileSync(path.join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
  return dir;
}

test('loads train and test splits with sizes, classes, label counts and pixels', async (t) => {
  const dir = fakeCifar();
  const train = await Cifar10.load(dir, { split: 'train' });
  t.is(train.length, 50_000);
  t.is(train.classes[9], 'truck');
  t.deepEqual(train.labelCounts(), Array(10).fill(5000));
  const test_ = await Cifar10.load(dir, { split: 'test' });
  t.is(test_.length, 10_000);
  const { pixels, labels } = test_.images(3, 2);
  t.deepEqual(Array.from(labels), [3, 4]);
  t.is(pixels.length, 2 * 3072);
  t.is(pixels[0], 21);
  t.is(pixels[3072], 28);
});

test('holdout keeps the last images apart as a validation set', async (t) => {
  const train = await Cifar10.load(fakeCifar(), { holdout: 5000 });
  t.is(train.length, 45_000);
  t.is(train.validation!.length, 5000);
  t.is(train.validation!.split, 'validation');
  t.deepEqual(Array.from(train.validation!.images(0, 1).labels), [45_000 % 10]);
  await t.throwsAsync(() => Cifar10.load(fakeCifar(), { split: 'test', holdout: 10 }), { message: "holdout applies to the train split, not 'test'" });
});

test('truncated, missing and corrupt files are errors naming the file and sizes', async (t) => {
  const dir = fakeCifar({ truncate: 'data_batch_3.bin' });
  await t.throwsAsync(() => Cifar10.load(dir), {
    message: `${path.join(dir, 'data_batch_3.bin')} has 30729999 bytes, expected 30730000 (10000 records of 3073 bytes)`,
  });
  fs.unlinkSync(path.join(dir, 'data_batch_5.bin'));
  await t.throwsAsync(() => Cifar10.load(dir), { message: new RegExp(`CIFAR-10 file .*data_batch_5\\.bin is missing`) });
  const bad = fakeCifar({ badLabel: true });
  await t.throwsAsync(() => Cifar10.load(bad, { split: 'test' }), { message: /test_batch\.bin: record 5 has label 200 \(expected 0-9\)/ });
  await t.throwsAsync(() => Cifar10.load('/nonexistent/cifar'), { message: /does not exist/ });
  await t.throwsAsync(() => Cifar10.load(dir, { split: 'val' as 'test' }), { instanceOf: RangeError });
});

test('evaluate on the test split (real CIFAR-10 when CIFAR10_DIR is set, else generated images): an untrained model is near chance; per-class and confusion add up', async (t) => {
  const dir = cifarDir(t) ?? fakeCifar();
  const data = await Cifar10.load(dir, { split: 'test' });
  const m = new ResNet({ depth: 20, seed: 0 });
  const r = await m.evaluate(data);
  t.log(`untrained ResNet-20 on ${data.length} test images: error ${r.error.toFixed(2)} %, loss ${r.loss.toFixed(3)}`);
  t.is(r.count, 10_000);
  t.true(r.error > 70 && r.error <= 100, String(r.error));
  t.is(r.confusion.flat().reduce((a, b) => a + b, 0), 10_000);
  t.deepEqual(r.perClass.map((c) => c.count), data.labelCounts());
  t.false(m.training);
  await t.throwsAsync(() => new ResNet({ numClasses: 100 }).evaluate(data), { message: /Expected a model with 10 classes/ });
  await t.throwsAsync(() => m.evaluate(data, { normalization: { kind: 'channel', mean: [0, 0], std: [1, 1, 1] } }), {
    message: 'Expected normalization.mean to be 3 finite numbers but received an array of length 2',
  });
});

withRealCifar()('real CIFAR-10 statistics match the published ones', async (t) => {
  const dir = REAL_CIFAR!;
  const train = await Cifar10.load(dir);
  t.deepEqual(train.labelCounts(), Array(10).fill(5000));
  const s = await train.channelStats();
  for (let c = 0; c < 3; c++) {
    t.true(Math.abs(s.mean[c] - [0.4914, 0.4822, 0.4465][c]) < 1e-4);
    t.true(Math.abs(s.std[c] - [0.247, 0.2435, 0.2616][c]) < 1e-3);
  }
  const pm = await train.pixelMean();
  t.is(pm.length, 3072);
});
