// Damaged and foreign files: each is a clear error naming the file, the process survives, and nothing on disk
// changes (every file in the folder keeps its bytes and modification time).
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet, loadTorchScript } from '../lib/index';
import { fakeCifarDir, py, PYTHON, tmpDir, withPython } from './helpers';

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    const st = fs.lstatSync(p);
    out[f] = st.isFile() ? `${st.size}:${st.mtimeMs}:${crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')}` : 'other';
  }
  return out;
}

function flipped(bytes: Buffer, at: number, bit = 0x10): Buffer {
  const b = Buffer.from(bytes);
  b[at] ^= bit;
  return b;
}

async function expectError(t: ExecutionContext, p: Promise<unknown>, re: RegExp, what: string): Promise<void> {
  const err = await t.throwsAsync(p, undefined, what);
  if (err) t.regex(err.message, re, `${what}: ${err.message}`);
}

test('damaged CIFAR-10 batch files: truncated, empty, oversized, random, bad label bytes', async (t) => {
  const src = fakeCifarDir();
  const good = fs.readFileSync(path.join(src, 'test_batch.bin'));
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 1000), /has 30729000 bytes, expected 30730000/],
    ['empty', Buffer.alloc(0), /has 0 bytes, expected 30730000/],
    ['oversized', Buffer.concat([good, Buffer.alloc(5)]), /has 30730005 bytes, expected 30730000/],
    ['random', crypto.randomBytes(good.length), /record \d+ has label \d+ \(expected 0-9\)/],
    ['label bit flip', flipped(good, 3073 * 1234, 0x80), /record 1234 has label 1(28|29|3\d) \(expected 0-9\)/],
  ];
  for (const [what, bytes, re] of cases) {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), bytes);
    const before = snapshot(dir);
    await expectError(t, Cifar10.load(dir, { split: 'test' }), new RegExp(`test_batch\\.bin:? .*${re.source}`), what);
    t.deepEqual(snapshot(dir), before, `${what}: nothing changed on disk`);
  }
});

test('damaged .tar.gz archives: truncated, empty, random, bit-flipped', async (t) => {
  const src = fakeCifarDir();
  const root = tmpDir();
  fs.mkdirSync(path.join(root, 'cifar-10-batches-bin'));
  fs.copyFileSync(path.join(src, 'test_batch.bin'), path.join(root, 'cifar-10-batches-bin', 'test_batch.bin'));
  const archive = path.join(tmpDir(), 'c.tar.gz');
  execFileSync('tar', ['czf', archive, '-C', root, 'cifar-10-batches-bin']);
  const good = fs.readFileSync(archive);
  const r = (n: number) => Math.floor(Math.random() * n);
  const cases: [string, Buffer][] = [
    ['truncated', good.subarray(0, Math.floor(good.length * 0.7))],
    ['empty', Buffer.alloc(0)],
    ['random', crypto.randomBytes(good.length)],
    ...Array.from({ length: 5 }, (_, i): [string, Buffer] => [`bit flip ${i}`, flipped(good, 20 + r(good.length - 40), 1 << r(8))]),
  ];
  for (const [what, bytes] of cases) {
    const dir = tmpDir();
    const f = path.join(dir, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(f, bytes);
    const before = snapshot(dir);
    await expectError(t, Cifar10.load(f, { split: 'test' }), /cifar-10-binary\.tar\.gz/, what);
    t.deepEqual(snapshot(dir), before, `${what}: nothing changed on disk`);
  }
});

test('damaged checkpoints: truncated, empty, random and bit-flipped files are errors, never wrong weights', async (t) => {
  const dir = tmpDir();
  const ckpt = path.join(dir, 'good.pt');
  await new ResNet({ depth: 8, device: 'cpu', seed: 3 }).save(ckpt);
  const good = fs.readFileSync(ckpt);
  const cases: [string, Buffer][] = [
    ['truncated', good.subarray(0, good.length - 100)],
    ['half', good.subarray(0, Math.floor(good.length / 2))],
    ['empty', Buffer.alloc(0)],
    ['random', crypto.randomBytes(good.length)],
    ['zip magic then random', Buffer.concat([Buffer.from('PK\x03\x04'), crypto.randomBytes(5000)])],
  ];
  // Flips spread over the whole file: headers, the pickle, tensor data, the zip directory.
  for (let i = 0; i < 40; i++) {
    const at = Math.floor((i + Math.random()) * (good.length / 40));
    cases.push([`bit flip at ${at}`, flipped(good, Math.min(at, good.length - 1), 1 << (i % 8))]);
  }
  const x = new Float32Array(2 * 3072).map((_, i) => Math.cos(i));
  const reference = await (await ResNet.load(ckpt, { device: 'cpu' })).predict(x);
  const bad = path.join(dir, 'bad.pt');
  let harmless = 0;
  for (const [what, bytes] of cases) {
    fs.writeFileSync(bad, bytes);
    const before = snapshot(dir);
    // A flip either makes the file an error (CRC-32 of every member is checked) or lands in bytes that carry no
    // data (zip header dates, alignment padding): then the weights are exactly the original ones.
    const loaded = await ResNet.load(bad, { device: 'cpu' }).catch((e: Error) => e);
    if (loaded instanceof Error) {
      t.regex(loaded.message, /bad\.pt/, what);
    } else {
      harmless++;
      t.true(what.startsWith('bit flip'), what);
      t.deepEqual(await loaded.predict(x), reference, `${what}: loaded, so it must hold the same weights`);
      loaded.dispose();
    }
    t.deepEqual(snapshot(dir), before, `${what}: nothing changed on disk`);
  }
  t.log(`${cases.length} damaged files: ${cases.length - harmless} errors, ${harmless} flips in bytes that carry no data (same weights)`);
  t.true(harmless < 10);
});

test('a checkpoint of another depth or shortcut is an error naming the difference; nothing changes on disk', async (t) => {
  const dir = tmpDir();
  const r32 = path.join(dir, 'r32.pt');
  const r20b = path.join(dir, 'r20b.pt');
  await new ResNet({ depth: 32, device: 'cpu' }).save(r32);
  await new ResNet({ depth: 20, shortcut: 'B', device: 'cpu' }).save(r20b);
  const m = new ResNet({ depth: 20, device: 'cpu' });
  const before = snapshot(dir);
  await expectError(t, m.loadStateDict(r32), /r32\.pt does not match ResNet-20 \(shortcut A, 10 classes\): unexpected key 'block1\.3\./, 'depth');
  await expectError(t, m.loadStateDict(r20b), /r20b\.pt does not match ResNet-20 \(shortcut A, 10 classes\): unexpected key 'block2\.0\.shortcut\./, 'shortcut');
  t.deepEqual(snapshot(dir), before);
});

withPython()('Python pickles that are not state dicts are errors saying what they hold', async (t) => {
  const dir = tmpDir();
  const m = new ResNet({ depth: 20, device: 'cpu' });
  const pickles: [string, string, RegExp][] = [
    ['list', 'torch.save([torch.zeros(3)], f)', /does not hold a state dict \(expected a dict of name -> tensor, got GenericList\)/],
    ['str values', "torch.save({'a': 'b'}, f)", /'a' is a String, not a tensor/],
    ['module object', 'torch.save(torch.nn.Linear(2, 2), f)', /unsupported Python object 'torch\.nn\.modules\.linear\.Linear'/],
    ['numpy', "import numpy; torch.save({'a': numpy.zeros(3)}, f)", /unsupported Python object '(numpy|_codecs)/],
    // The legacy format reads; its content is what is wrong here.
    ['legacy format', 'torch.save({"a": torch.zeros(2)}, f, _use_new_zipfile_serialization=False)', /holds a state dict of an unknown layout \(keys: a\)/],
  ];
  for (const [what, code, re] of pickles) {
    const f = path.join(dir, `${what.replace(/ /g, '_')}.pt`);
    execFileSync(PYTHON, ['-c', `import torch, sys\nf = sys.argv[1]\n${code}`, f]);
    const snap = snapshot(dir);
    await expectError(t, m.loadStateDict(f), re, what);
    await expectError(t, ResNet.load(f, { device: 'cpu' }), re, `${what} (load)`);
    t.deepEqual(snapshot(dir), snap);
  }
});

withPython()('TorchScript files with flipped bytes are errors', async (t) => {
  const out = tmpDir();
  await py(['torchscript', '--depth', '8', '--steps', '1', '--eval-dir', fakeCifarDir(), '--out', out]);
  const good = fs.readFileSync(path.join(out, 'scripted.pt'));
  const x = new Float32Array(2 * 3072).map((_, i) => Math.sin(i));
  const reference = await (await loadTorchScript(path.join(out, 'scripted.pt'), { device: 'cpu' })).predict(x);
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.pt');
  let errors = 0;
  for (let i = 0; i < 25; i++) {
    const at = Math.floor((i + Math.random()) * (good.length / 25));
    fs.writeFileSync(bad, flipped(good, Math.min(at, good.length - 1), 1 << (i % 8)));
    const before = snapshot(dir);
    // Every member (stored or deflated) is CRC-checked, so a flip is an error unless it hit bytes that carry no
    // data (zip header dates, padding): then the module must compute exactly what the original does.
    const m = await loadTorchScript(bad, { device: 'cpu' }).catch((e: Error) => e);
    if (m instanceof Error) {
      errors++;
      t.regex(m.message, /bad\.pt/);
    } else {
      t.deepEqual(await m.predict(x), reference, `flip at ${at} loaded, so it must compute the same`);
      m.dispose();
    }
    t.deepEqual(snapshot(dir), before);
  }
  t.log(`25 flipped TorchScript files: ${errors} errors, ${25 - errors} harmless (same outputs)`);
  t.true(errors >= 15);
  fs.writeFileSync(bad, good.subarray(0, good.length - 10));
  await expectError(t, loadTorchScript(bad, { device: 'cpu' }), /bad\.pt is corrupted/, 'truncated');
});
