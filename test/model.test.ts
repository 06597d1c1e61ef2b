import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet, IMAGE_SIZE, PAPER_DEPTHS, Trainer, info } from '../lib/index';
import { anyCifarDir, randomImages, tmpDir } from './helpers';

test('the addon loads under this Node (scripts/ci/node-versions.sh names the one it runs)', (t) => {
  t.log(`Node ${process.version}, N-API ${process.versions.napi}, addon ${info().addon.path} (${info().addon.build})`);
  const expected = process.env.RESNET_CIFAR_EXPECT_NODE;
  if (expected !== undefined) t.is(process.versions.node.split('.')[0], expected);
  t.true(new ResNet({ depth: 20 }).parameterCount > 0);
});

const PAPER_PARAMS: Record<number, number> = {
  20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274,
};

for (const depth of PAPER_DEPTHS) {
  test(`ResNet-${depth} option A has the paper's ${PAPER_PARAMS[depth]} parameters`, (t) => {
    const m = new ResNet({ depth, shortcut: 'A', device: 'cpu' });
    t.is(m.parameterCount, PAPER_PARAMS[depth]);
    m.dispose();
  });
}

/** Parameters of the 6n+2-layer option-A net, counted from the architecture (3x3 convs without bias, BN, fc). */
function expectedParams(n: number, classes = 10): number {
  const conv = (cin: number, cout: number) => cin * cout * 9;
  const bn = (c: number) => 2 * c;
  const block = (cin: number, cout: number) => conv(cin, cout) + bn(cout) + conv(cout, cout) + bn(cout);
  const stage = (cin: number, cout: number) => block(cin, cout) + (n - 1) * block(cout, cout);
  return conv(3, 16) + bn(16) + stage(16, 16) + stage(16, 32) + stage(32, 64) + 64 * classes + classes;
}

test('plain nets have option A parameters; option B adds two 1x1 projections + BN; ResNet-8 (n = 1) exactly', (t) => {
  for (const d of PAPER_DEPTHS) t.is(expectedParams((d - 2) / 6), PAPER_PARAMS[d], `the formula gives the paper's count for ${d}`);
  t.is(new ResNet({ depth: 20, shortcut: 'plain' }).parameterCount, 269_722);
  t.is(new ResNet({ depth: 20, shortcut: 'B' }).parameterCount, 269_722 + (16 * 32 + 64) + (32 * 64 + 128));
  t.is(new ResNet({ depth: 8 }).parameterCount, 75_290);
  t.is(expectedParams(1), 75_290);
  t.is(new ResNet({ depth: 8, numClasses: 100 }).parameterCount, expectedParams(1, 100));
});

test('state dict keys follow the seed naming', (t) => {
  const keys = new ResNet({ depth: 20 }).stateDictKeys();
  for (const k of ['conv.weight', 'bn.weight', 'bn.running_mean', 'block1.0.conv1.weight', 'block1.0.bn1.bias',
    'block3.2.bn2.num_batches_tracked', 'fc.weight', 'fc.bias']) t.true(keys.includes(k), k);
  t.false(keys.includes('conv.bias'));
  const b = new ResNet({ depth: 20, shortcut: 'B' }).stateDictKeys();
  t.true(b.includes('block2.0.shortcut.0.weight'));
  t.true(b.includes('block3.0.shortcut.1.running_var'));
  t.false(b.includes('block1.0.shortcut.0.weight'));
});

test('config, device, modes and numClasses', async (t) => {
  const m = new ResNet({ depth: 32, shortcut: 'B', numClasses: 100, device: 'auto' });
  t.deepEqual(m.config, { depth: 32, shortcut: 'B', numClasses: 100, inChannels: 3 });
  t.is(m.device, info().cuda.available ? 'cuda:0' : 'cpu');
  t.false(m.training, 'models start in eval mode');
  t.true(m.train().training);
  t.false(m.eval().training);
  const out = await m.predict(randomImages(3), 3);
  t.is(out.length, 3 * 100);
  t.true(out.every(Number.isFinite));
});

test('predict is deterministic in eval mode, infers n, and batch results match single images', async (t) => {
  const m = new ResNet({ depth: 20, seed: 3 });
  const x = randomImages(4);
  const a = await m.predict(x, 4);
  const b = await m.predict(x);
  t.deepEqual(a, b);
  const one = await m.predict(x.slice(IMAGE_SIZE, 2 * IMAGE_SIZE), 1);
  for (let i = 0; i < 10; i++) t.true(Math.abs(one[i] - a[10 + i]) < 1e-4);
});

test('the same seed gives the same weights; another seed does not', async (t) => {
  const x = randomImages(2);
  const a = await new ResNet({ seed: 11 }).predict(x);
  const b = await new ResNet({ seed: 11 }).predict(x);
  const c = await new ResNet({ seed: 12 }).predict(x);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});

test('train-mode forward uses batch statistics (differs from eval mode)', async (t) => {
  const m = new ResNet({ seed: 1 });
  const x = randomImages(8);
  const ev = await m.predict(x);
  const tr = await m.train().predict(x);
  t.notDeepEqual(ev, tr);
});

test('the caller may reuse the input buffer while predict runs', async (t) => {
  const m = new ResNet({ seed: 5 });
  const x = randomImages(2);
  const expected = await m.predict(x);
  const p = m.predict(x);
  x.fill(1000);
  t.deepEqual(await p, expected);
});

test('predict runs off the main thread: timers keep firing during a long forward pass', async (t) => {
  const m = new ResNet({ depth: 110, seed: 2 });
  const x = randomImages(64);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const start = Date.now();
  // Forward passes until at least 200 ms have gone by, however fast the CPU: the check below always applies.
  let passes = 0;
  while (Date.now() - start < 200) { await m.predict(x); passes++; }
  const elapsed = Date.now() - start;
  clearInterval(timer);
  t.log(`ResNet-110 forward of 64 images, ${passes} passes: ${elapsed} ms, ${ticks} timer ticks`);
  t.true(ticks >= Math.floor(elapsed / 5 / 4), `only ${ticks} ticks in ${elapsed} ms`);
});

test('dispose: idempotent, later use is a clear error, pending predict still settles', async (t) => {
  const m = new ResNet({ depth: 20 });
  const p = m.predict(randomImages(2));
  m.dispose();
  m.dispose();
  t.true(m.disposed);
  t.is((await p).length, 20);
  t.throws(() => m.parameterCount, { message: 'This ResNet has been disposed' });
  await t.throwsAsync(() => m.predict(randomImages(1)), { message: 'This ResNet has been disposed' });
  await t.throwsAsync(() => m.save('/tmp/x.pt'), { message: 'This ResNet has been disposed' });
});

test('info reports libtorch version, CUDA and threads', (t) => {
  const i = info();
  t.regex(i.libtorch.version, /^2\.\d+\.\d+/);
  t.is(typeof i.libtorch.cuda, 'boolean');
  t.is(typeof i.cuda.available, 'boolean');
  t.true(i.cuda.deviceCount >= 0);
  t.true(i.threads >= 1);
  t.true(i.libtorch.libraries.torch_cpu.startsWith(i.libtorch.path));
  // .ci/run also runs this file against the node-gyp build of the same sources.
  if (process.env.RESNET_CIFAR_EXPECT_BUILD) t.is(i.addon.build, process.env.RESNET_CIFAR_EXPECT_BUILD as 'node-gyp');
  if (process.env.RESNET_CIFAR_ADDON) t.is(i.addon.path, require('node:path').resolve(process.env.RESNET_CIFAR_ADDON));
});

test('eval-mode predict follows the weights: after a fit and after loadStateDict it gives what a fresh load of them gives', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const dir = tmpDir();
  const x = randomImages(4, 11);
  const m = new ResNet({ depth: 20, shortcut: 'B', seed: 1 });
  const before = await m.predict(x, 4);
  t.deepEqual(await m.predict(x, 4), before, 'the same weights give the same bits');
  await new Trainer(m, { iterations: 2, batchSize: 16, seed: 1 }).fit(data);
  m.eval();
  const after = await m.predict(x, 4);
  t.notDeepEqual(after, before, 'predict still gives the weights before the fit');
  await m.save(path.join(dir, 'a.pt'));
  await m.save(path.join(dir, 'a.state.pt'), { format: 'state-dict' });
  const reloaded = await ResNet.load(path.join(dir, 'a.pt'));
  t.deepEqual(await reloaded.predict(x, 4), after);
  const other = new ResNet({ depth: 20, shortcut: 'B', seed: 2 });
  const own = await other.predict(x, 4);
  await other.loadStateDict(path.join(dir, 'a.state.pt'));
  const loaded = await other.predict(x, 4);
  t.notDeepEqual(loaded, own);
  t.deepEqual(loaded, after, 'loadStateDict: predict gives the loaded weights');
  for (const n of [m, reloaded, other]) n.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
