// ONNX export, checked by ONNX itself (onnx.checker, its descriptors of our schema) and run by ONNX Runtime
// (onnxruntime-node) against our own predict and evaluate.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Cifar10, ImageDataset, ResNet, Trainer, pretrainedModels, type Shortcut } from '../lib/index';
import { checkSchema, type Descriptors } from './helpers/proto-schema';
import { anyCifarDir, cifarImages, launch, PYTHON, REAL_CIFAR, relError, ROOT, tmpDir, withPython, withRealCifar } from './helpers';

const run = promisify(execFile);
const CHECK = path.join(ROOT, 'test/python/onnx_check.py');

interface Checked { irVersion: number; opset: Record<string, number>; inputs: Record<string, (string | number)[]>;
  outputs: Record<string, (string | number)[]>; metadata: Record<string, string>; ops: string[] }
async function onnxCheck(...files: string[]): Promise<Checked[]> {
  const { stdout } = await run(PYTHON, [CHECK, 'check', ...files], { maxBuffer: 64 << 20 });
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as Checked);
}

async function ortLogits(file: string, input: string, x: Float32Array, n: number, chw = [3, 32, 32]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const r = await session.run({ [input]: new ort.Tensor('float32', x, [n, ...chw]) });
    return r.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** A network with BatchNorm statistics moved off their initial values by a few training steps. */
async function trained(depth: number, shortcut: Shortcut, data: Cifar10): Promise<ResNet> {
  const m = new ResNet({ depth, shortcut, seed: depth });
  await new Trainer(m, { iterations: 3, batchSize: 16, seed: 1 }).fit(data);
  return m.eval();
}

withPython(['onnx'])('proto/onnx.proto matches ONNX\'s own descriptors: every message, field number, type, label and enum value', async (t) => {
  const theirs = JSON.parse((await run(PYTHON, [CHECK, 'schema'])).stdout) as Descriptors;
  const { fields } = checkSchema(t, path.join(ROOT, 'proto/onnx.proto'), theirs);
  t.true(fields >= 40, `${fields} fields`);
});

withPython(['onnx'])('ResNet-20/32, shortcuts A, B and plain: onnx.checker accepts the export and ONNX Runtime gives our logits (1e-4)', async (t) => {
  const dataDir = anyCifarDir(t);
  const data = await Cifar10.load(dataDir, { split: 'test' });
  const dir = tmpDir('onnx-');
  const n = 16;
  const x = cifarImages(dataDir, n);
  const files: string[] = [];
  for (const depth of [20, 32]) {
    for (const shortcut of ['A', 'B', 'plain'] as const) {
      const m = await trained(depth, shortcut, data);
      const file = path.join(dir, `r${depth}${shortcut}.onnx`);
      await m.save(file);
      files.push(file);
      const err = relError(await ortLogits(file, 'input', x, n), await m.predict(x, n));
      t.log(`ResNet-${depth} ${shortcut}: ONNX Runtime vs ours, relative ${err.toExponential(2)}`);
      t.true(err < 1e-4, `ResNet-${depth} ${shortcut}: ${err}`);
      // A batch of another size: the batch dimension is dynamic.
      const one = x.subarray(0, 3072);
      t.true(relError(await ortLogits(file, 'input', one, 1), await m.predict(one, 1)) < 1e-4);
      m.dispose();
    }
  }
  const checked = await onnxCheck(...files);
  for (const c of checked) {
    t.deepEqual(c.opset, { '': 17 });
    t.deepEqual(c.inputs, { input: ['batch', 3, 32, 32] });
    t.deepEqual(c.outputs, { logits: ['batch', 10] });
  }
  t.true(checked[0].ops.includes('Pad') && checked[0].ops.includes('Slice'), 'option A subsamples and pads');
  t.false(checked[2].ops.includes('Add'), 'plain networks have no shortcut');
  fs.rmSync(dir, { recursive: true, force: true });
});

withPython(['onnx'], withRealCifar())('the shipped ResNet-20 with input pixels: ONNX Runtime\'s test error over the 10,000 test images is ours', async (t) => {
  const dataDir = REAL_CIFAR!;
  const data = await Cifar10.load(dataDir, { split: 'test' });
  const m = await ResNet.pretrained('resnet20');
  const dir = tmpDir('onnx-pretrained-');
  const file = path.join(dir, 'resnet20.onnx');
  await m.save(file, { input: 'pixels' });
  const [checked] = await onnxCheck(file);
  t.deepEqual(checked.inputs, { pixels: ['batch', 3, 32, 32] });
  const shipped = (await pretrainedModels()).find((p) => p.name === 'resnet20')!;
  t.like(checked.metadata, { depth: '20', shortcut: 'A', num_classes: '10', test_error: String(shipped.testError) });
  t.deepEqual(JSON.parse(checked.metadata.class_names), data.classes);
  t.is(JSON.parse(checked.metadata.normalization).kind, 'pixel');
  const ours = await m.evaluate(data);
  const session = await ort.InferenceSession.create(file);
  let wrong = 0;
  for (let start = 0; start < data.length; start += 500) {
    const { pixels, labels } = data.images(start, 500);
    const r = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(pixels, (p) => p / 255), [500, 3, 32, 32]) });
    const l = r.logits.data as Float32Array;
    for (let i = 0; i < 500; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (l[i * 10 + c] > l[i * 10 + best]) best = c;
      if (best !== labels[i]) wrong++;
    }
  }
  await session.release();
  const theirs = (100 * wrong) / data.length;
  t.log(`test error: ours ${ours.error} %, ONNX Runtime ${theirs} %`);
  t.true(Math.abs(theirs - ours.error) <= 0.02, `ours ${ours.error}, ONNX Runtime ${theirs}`);
  m.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every network ResNet.load opens exports: the seed\'s and akamaster\'s layouts, safetensors; the CLI converts to .onnx', async (t) => {
  const dataDir = anyCifarDir(t);
  const data = await Cifar10.load(dataDir, { split: 'test' });
  const dir = tmpDir('onnx-foreign-');
  const x = cifarImages(dataDir, 8);
  const source = await trained(20, 'B', data);
  for (const [name, format] of [['seed.pt', 'state-dict'], ['akamaster.th', 'akamaster'], ['ours.safetensors', 'safetensors']] as const) {
    await source.save(path.join(dir, name), { format });
    const loaded = await ResNet.load(path.join(dir, name));
    const file = path.join(dir, `${name}.onnx`);
    await loaded.save(file);
    t.true(relError(await ortLogits(file, 'input', x, 8), await loaded.predict(x, 8)) < 1e-4, name);
    loaded.dispose();
  }
  const out = path.join(dir, 'cli.onnx');
  const r = await launch(process.execPath, [path.join(ROOT, 'bin/resnet-cifar.js'), 'convert', path.join(dir, 'akamaster.th'), out,
    '--input', 'pixels', '--normalize', 'cifar', '--json']).done;
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { format: 'onnx', output: out });
  const pixels = Float32Array.from(data.images(0, 8).pixels, (p) => p / 255);
  t.true(relError(await ortLogits(out, 'pixels', pixels, 8), await source.predict(x, 8)) < 1e-4, 'normalization inside the graph');
  source.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ONNX export options: input pixels needs a normalization; meta and input are refused where they do not apply', async (t) => {
  const dir = tmpDir('onnx-options-');
  const m = new ResNet({ depth: 8 });
  await t.throwsAsync(() => m.save(path.join(dir, 'a.onnx'), { input: 'pixels' }), { instanceOf: TypeError, message: /normalization for input 'pixels'/ });
  await t.throwsAsync(() => m.save(path.join(dir, 'b.onnx'), { meta: { a: 1 } }), { instanceOf: TypeError, message: /no meta for format 'onnx'/ });
  await t.throwsAsync(() => m.save(path.join(dir, 'c.pt'), { input: 'pixels' }), { instanceOf: TypeError, message: /ONNX option/ });
  await t.throwsAsync(() => m.save(path.join(dir, 'd.onnx'), { input: 'rgb' as 'pixels' }), { instanceOf: RangeError });
  t.deepEqual(fs.readdirSync(dir), [], 'nothing written');
  await m.save(path.join(dir, 'e.bin'), { format: 'onnx' });
  t.true((await ort.InferenceSession.create(path.join(dir, 'e.bin'))).inputNames.includes('input'));
  m.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

withPython(['onnx'])('a grey network trained on 1×28×28 images exports with its channels, size, class names and per-pixel mean', async (t) => {
  const n = 12;
  const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37 + Math.floor(i / 784) * 11) % 256);
  const data = await ImageDataset.fromArrays(pixels, Array.from({ length: n }, (_, i) => i % 3), {
    shape: { channels: 1, height: 28, width: 28 }, layout: 'nchw', classes: ['circle', 'square', 'star'],
  });
  const m = new ResNet({ depth: 8, numClasses: 3, inChannels: 1, seed: 2 });
  await new Trainer(m, { iterations: 2, batchSize: 6, milestones: [] }).fit(data);
  const dir = tmpDir();
  const file = path.join(dir, 'grey.onnx');
  await m.save(file, { input: 'pixels' });
  const [checked] = await onnxCheck(file);
  t.deepEqual(checked.inputs, { pixels: ['batch', 1, 28, 28] });
  t.deepEqual(JSON.parse(checked.metadata.class_names), ['circle', 'square', 'star']);
  t.is(checked.metadata.in_channels, '1');
  t.deepEqual(JSON.parse(checked.metadata.normalization).shape, [1, 28, 28]);
  const mean = await data.pixelMean();
  const x = Float32Array.from(pixels, (p, i) => p / 255 - mean[i % 784]);
  const raw = Float32Array.from(pixels, (p) => p / 255);
  t.true(relError(await ortLogits(file, 'pixels', raw, n, [1, 28, 28]), await m.predict(x, n)) < 1e-4);
  m.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
