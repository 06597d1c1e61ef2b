import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResNet } from '../lib/index';
import { PYTHON, randomImages, tmpDir, withPython } from './helpers';
import { execFileSync } from 'node:child_process';

test('save -> load gives the same config, logits and meta; no temporary files are left', async (t) => {
  const dir = tmpDir();
  const m = new ResNet({ depth: 20, shortcut: 'B', seed: 4 });
  const x = randomImages(4);
  const before = await m.predict(x);
  const file = path.join(dir, 'ck.pt');
  await m.save(file, { meta: { note: 'hello' }, normalization: { kind: 'channel', mean: [0.5, 0.25, 0.125], std: [0.5, 0.5, 0.25] } });
  t.deepEqual(fs.readdirSync(dir), ['ck.pt']);
  const r = await ResNet.load(file, { device: 'cpu' });
  t.deepEqual(r.config, { depth: 20, shortcut: 'B', numClasses: 10, inChannels: 3 });
  t.deepEqual(await r.predict(x), before);
  t.like(r.meta, { format: 'resnet-cifar', format_version: 1, depth: 20, shortcut: 'B', num_classes: 10, note: 'hello',
    normalization: { kind: 'channel', mean: [0.5, 0.25, 0.125], std: [0.5, 0.5, 0.25] } });
  t.deepEqual(r.normalization, { kind: 'channel', mean: [0.5, 0.25, 0.125], std: [0.5, 0.5, 0.25] });
  t.false(r.training);
  // The keys the format writes itself cannot come from a user's meta.
  await t.throwsAsync(() => m.save(file, { meta: { depth: 32 } }), { message: /meta cannot set 'depth': the checkpoint format writes it/ });
  await t.throwsAsync(() => m.save(file, { meta: { normalization: {} } }), { message: /meta cannot set 'normalization'/ });
  await t.throwsAsync(() => m.save(file, { meta: { w: new Float32Array(2) } as never }), { message: /meta\.w to hold plain data/ });
});

withPython()('Python reads our checkpoint with torch.load(weights_only=True)', async (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'ck.pt');
  await new ResNet({ depth: 32, seed: 1 }).save(file, { meta: { epoch: 3, lr: 0.1, ok: true, none: null } });
  const out = execFileSync(PYTHON, ['-c', `
import torch, json, sys
d = torch.load(sys.argv[1], weights_only=True)
sd = d['state_dict']
print(json.dumps({'type': type(d).__name__, 'meta': d['meta'], 'n': len(sd),
  'conv': list(sd['conv.weight'].shape), 'nbt': str(sd['bn.num_batches_tracked'].dtype)}))
`, file], { encoding: 'utf8' });
  const r = JSON.parse(out);
  t.is(r.type, 'dict');
  t.like(r.meta, { format: 'resnet-cifar', depth: 32, shortcut: 'A', num_classes: 10, epoch: 3, lr: 0.1, ok: true, none: null });
  t.deepEqual(r.conv, [16, 3, 3, 3]);
  t.is(r.nbt, 'torch.int64');
  t.is(r.n, 1 + 5 + 15 * 2 * (1 + 5) + 2); // conv + bn (5 entries) + 15 blocks x 2 x (conv + bn) + fc (2)
});

test('bad checkpoint files are clear errors that name the file', async (t) => {
  const dir = tmpDir();
  const text = path.join(dir, 'notes.txt');
  fs.writeFileSync(text, 'not a checkpoint');
  const empty = path.join(dir, 'empty.pt');
  fs.writeFileSync(empty, '');
  await t.throwsAsync(() => ResNet.load(text), { message: `${text} is not a file written by torch.save (neither its zip format nor the legacy format of PyTorch before 1.6)` });
  await t.throwsAsync(() => ResNet.load(empty), { message: `${empty} is empty (expected a file written by torch.save)` });
  await t.throwsAsync(() => ResNet.load(path.join(dir, 'missing.pt')), { message: /Cannot open .*missing\.pt: No such file or directory/ });
  // A truncated checkpoint.
  const good = path.join(dir, 'good.pt');
  await new ResNet({ depth: 20 }).save(good);
  const bytes = fs.readFileSync(good);
  const cut = path.join(dir, 'cut.pt');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await t.throwsAsync(() => ResNet.load(cut), { message: `${cut} is corrupted: no zip directory at the end (the file was damaged or cut short)` });
  // A zip that is not ours: a state dict without meta.
  const m = new ResNet({ depth: 20 });
  await t.throwsAsync(() => m.loadStateDict(text), { message: /is not a file written by torch.save/ });
  await t.throwsAsync(() => ResNet.load(dir), { message: /Cannot (open|read)/ });
});

test('a checkpoint of another depth or shortcut names the first offending key', async (t) => {
  const dir = tmpDir();
  const f20 = path.join(dir, 'r20.pt');
  await new ResNet({ depth: 20 }).save(f20);
  const m32 = new ResNet({ depth: 32 });
  await t.throwsAsync(() => m32.loadStateDict(f20), {
    message: `${f20} does not match ResNet-32 (shortcut A, 10 classes): missing key 'block1.3.conv1.weight' (shape [16, 16, 3, 3])`,
  });
  const mB = new ResNet({ depth: 20, shortcut: 'B' });
  await t.throwsAsync(() => mB.loadStateDict(f20), { message: /missing key 'block2\.0\.shortcut\.0\.weight'/ });
  const fB = path.join(dir, 'rB.pt');
  await mB.save(fB);
  await t.throwsAsync(() => new ResNet({ depth: 20 }).loadStateDict(fB), {
    message: `${fB} does not match ResNet-20 (shortcut A, 10 classes): unexpected key 'block2.0.shortcut.0.weight' (shape [32, 16, 1, 1])`,
  });
  await t.throwsAsync(() => new ResNet({ depth: 20, numClasses: 100 }).loadStateDict(f20), {
    message: `${f20} does not match ResNet-20 (shortcut A, 100 classes): key 'fc.weight' has shape [10, 64] in the file but [100, 64] in the model`,
  });
});

test('a failed load leaves the model unchanged', async (t) => {
  const dir = tmpDir();
  const f = path.join(dir, 'r32.pt');
  await new ResNet({ depth: 32 }).save(f);
  const m = new ResNet({ depth: 20, seed: 9 });
  const x = randomImages(2);
  const before = await m.predict(x);
  await t.throwsAsync(() => m.loadStateDict(f));
  t.deepEqual(await m.predict(x), before);
});

test('save into a missing folder fails cleanly and writes nothing', async (t) => {
  const dir = tmpDir();
  const target = path.join(dir, 'no', 'such', 'ck.pt');
  await t.throwsAsync(() => new ResNet().save(target), { message: `Cannot write ${target}: No such file or directory` });
  t.deepEqual(fs.readdirSync(dir), []);
});

test('save replaces an existing checkpoint atomically', async (t) => {
  const dir = tmpDir();
  const f = path.join(dir, 'ck.pt');
  await new ResNet({ depth: 20 }).save(f);
  await new ResNet({ depth: 32 }).save(f);
  t.is((await ResNet.load(f)).config.depth, 32);
  t.deepEqual(fs.readdirSync(dir), ['ck.pt']);
});
