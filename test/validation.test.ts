import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cifar10, ResNet, Trainer, info, setNumThreads } from '../lib/index';
import { native } from '../lib/base/native';
import { fakeCifarDir, randomImages } from './helpers';

test('depth must be 6n+2', (t) => {
  t.throws(() => new ResNet({ depth: 21 }), {
    instanceOf: RangeError, message: 'Expected depth of the form 6n+2 (20, 32, 44, …) up to 6002 but received 21',
  });
  for (const d of [2, 0, -4, 20.5, NaN, Infinity, 6008, 60002]) t.throws(() => new ResNet({ depth: d }), { instanceOf: RangeError });
  t.throws(() => new ResNet({ depth: '20' as unknown as number }), {
    instanceOf: TypeError, message: "Expected depth of the form 6n+2 (20, 32, 44, …) up to 6002 but received '20'",
  });
});

test('shortcut, numClasses, device, seed and unknown options', (t) => {
  t.throws(() => new ResNet({ shortcut: 'C' as 'A' }), {
    instanceOf: RangeError, message: "Expected shortcut to be one of 'A', 'B', 'plain' but received 'C'",
  });
  t.throws(() => new ResNet({ numClasses: 0 }), {
    instanceOf: RangeError, message: 'Expected numClasses between 1 and 1000000 but received 0',
  });
  t.throws(() => new ResNet({ device: 'gpu' as 'cpu' }), {
    message: "Expected device to be 'auto', 'cpu', 'cuda' or 'cuda:N' but received 'gpu'",
  });
  t.throws(() => new ResNet({ seed: -1 }), { instanceOf: RangeError, message: 'Expected seed >= 0 but received -1' });
  t.throws(() => new ResNet({ depht: 20 } as unknown as object), {
    instanceOf: TypeError, message: "Unknown option 'depht' for ResNet (expected one of: depth, shortcut, numClasses, inChannels, device, seed)",
  });
  t.throws(() => new ResNet(null as unknown as object), { instanceOf: TypeError, message: /ResNet options to be an object/ });
});

test('CUDA on a CPU-only build or a missing device is a clear error', (t) => {
  const i = info();
  if (!i.libtorch.cuda) {
    t.throws(() => new ResNet({ device: 'cuda' }), { message: /CPU-only libtorch/ });
  } else if (!i.cuda.available) {
    t.throws(() => new ResNet({ device: 'cuda' }), { message: /no CUDA device is visible/ });
  }
  if (i.cuda.deviceCount < 100) t.throws(() => new ResNet({ device: 'cuda:99' }), { message: /cuda:99/ });
});

test('predict input checks', async (t) => {
  const m = new ResNet({ depth: 20 });
  await t.throwsAsync(() => m.predict(new Float32Array(3000), 1), {
    instanceOf: RangeError, message: 'Expected input of length n×C×H×W for n = 1 (C = 3, square sides of 8 to 256) but received 3000',
  });
  // A grey network takes 1×H×W images, at any square size the addon takes.
  const grey = new ResNet({ depth: 8, inChannels: 1 });
  t.is((await grey.predict(new Float32Array(2 * 28 * 28), 2)).length, 20);
  await t.throwsAsync(() => grey.predict(new Float32Array(3072), 1), { instanceOf: RangeError, message: /C = 1/ });
  t.throws(() => new ResNet({ inChannels: 2 as 1 }), { instanceOf: RangeError, message: 'Expected inChannels to be 3 (colour) or 1 (grey) but received 2' });
  grey.dispose();
  await t.throwsAsync(() => m.predict(new Float32Array(3000)), {
    instanceOf: RangeError, message: 'Expected input length to be a positive multiple of 3×32×32 but received 3000 (pass n for images of another size)',
  });
  await t.throwsAsync(() => m.predict(new Float32Array(0)), { instanceOf: RangeError });
  await t.throwsAsync(() => m.predict(new Float64Array(3072) as unknown as Float32Array), {
    instanceOf: TypeError, message: 'Expected input to be a Float32Array (NCHW, n×C×H×W) but received a Float64Array of length 3072',
  });
  await t.throwsAsync(() => m.predict([1, 2] as unknown as Float32Array), { instanceOf: TypeError });
  await t.throwsAsync(() => m.predict(randomImages(1), 0), { instanceOf: RangeError });
  await t.throwsAsync(() => m.predict(randomImages(1), 1.5), { instanceOf: RangeError });
  await t.throwsAsync(() => m.predict(randomImages(2), 1), { instanceOf: RangeError });
});

test('the native surface itself rejects bad arguments with JS errors, never a crash', async (t) => {
  const N = native();
  t.throws(() => new N.Model({} as never), { instanceOf: TypeError });
  t.throws(() => new N.Model({ depth: 21, shortcut: 'A', numClasses: 10, device: 'cpu' }), { instanceOf: RangeError });
  t.throws(() => new N.Model({ depth: 20, shortcut: 'Z' as 'A', numClasses: 10, device: 'cpu' }), { instanceOf: RangeError });
  const m = new N.Model({ depth: 20, shortcut: 'A', numClasses: 10, device: 'cpu' });
  t.throws(() => m.predict(new Float32Array(5), 1, 'fp32'), { instanceOf: RangeError });
  t.throws(() => m.predict(undefined as never, 1, 'fp32'), { instanceOf: TypeError });
  t.throws(() => m.save(42 as never), { instanceOf: TypeError });
  t.throws(() => m.save('/tmp/x', (() => 1) as never), { instanceOf: TypeError });
  t.throws(() => m.setTraining('yes' as never), { instanceOf: TypeError });
  t.throws(() => N.setNumThreads(0), { instanceOf: RangeError });
  t.throws(() => N.Model.load(undefined as never, 'cpu'), { instanceOf: TypeError });
});

test('one bound per rule: every seed lib accepts (up to 2^53 - 1) native code accepts too', (t) => {
  for (const seed of [0, 9.005e15, Number.MAX_SAFE_INTEGER]) t.notThrows(() => new ResNet({ depth: 8, seed }).dispose());
  t.throws(() => new ResNet({ depth: 8, seed: 2 ** 53 }), { instanceOf: RangeError, message: /seed between 0 and 9007199254740991/ });
  const { native } = require('../lib/base/native') as typeof import('../lib/base/native');
  const N = native();
  t.notThrows(() => new N.Model({ depth: 8, shortcut: 'A', numClasses: 10, device: 'cpu', seed: 9.005e15 }).dispose());
  t.is(N.constants.maxDepth, 6002);
  t.throws(() => new N.Model({ depth: 6008, shortcut: 'A', numClasses: 10, device: 'cpu' }), { instanceOf: RangeError });
});

test('setNumThreads validates and applies', (t) => {
  const before = info().threads;
  setNumThreads(1);
  t.is(info().threads, 1);
  setNumThreads(before);
  t.throws(() => setNumThreads(0), { instanceOf: RangeError, message: 'Expected threads between 1 and 1024 but received 0' });
});

test("precision 'tf32' is CUDA's only; cudaGraphs is a boolean, and the CPU runs without graphs", async (t) => {
  const m = new ResNet({ depth: 8, device: 'cpu', seed: 1 });
  const message = "Expected precision 'fp32' or 'bf16' on cpu ('tf32' is the tensor-core float32 of NVIDIA GPUs) but received 'tf32'";
  t.throws(() => new Trainer(m, { precision: 'tf32' }), { instanceOf: RangeError, message });
  await t.throwsAsync(m.predict(randomImages(1), 1, { precision: 'tf32' }), { instanceOf: RangeError, message });
  t.throws(() => new Trainer(m, { cudaGraphs: 'yes' as never }), {
    instanceOf: TypeError, message: "Expected cudaGraphs to be a boolean but received 'yes'",
  });
  const data = await Cifar10.load(fakeCifarDir(), { split: 'test' });
  const h = await new Trainer(m, { iterations: 4, batchSize: 16, cudaGraphs: true }).fit(data, { reportEvery: 2 });
  t.is(h.iterations, 4);
  t.false(h.notes.some((n) => n.includes('CUDA graph')), h.notes.join('; '));
  m.dispose();
});

test('save refuses a name of a format it does not write instead of writing a checkpoint under it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-save-'));
  const m = new ResNet({ depth: 20 });
  for (const name of ['x.pt2', 'x.PT2', 'x.tflite', 'x.h5']) {
    const file = path.join(dir, name);
    await t.throwsAsync(() => m.save(file), { instanceOf: RangeError, message: /^Cannot write .* to '.*': formats are checkpoint, safetensors, state-dict, akamaster, onnx/ });
    t.false(fs.existsSync(file), `${name} was written`);
  }
  await m.save(path.join(dir, 'x.pt2.pt'));
  t.true(fs.existsSync(path.join(dir, 'x.pt2.pt')));
  await m.save(path.join(dir, 'plain.pt2'), { format: 'checkpoint' });
  t.true(fs.existsSync(path.join(dir, 'plain.pt2')), 'an explicit format is written whatever the name');
  fs.rmSync(dir, { recursive: true, force: true });
});
