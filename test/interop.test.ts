// Weights from the PyTorch world: akamaster/pytorch_resnet_cifar10's layout (zip and legacy torch.save, DataParallel
// prefixes, option A's channel order), safetensors both ways, AOTInductor packages, and bad files of each kind.
// The PyTorch models are built in the test run (test/python/akamaster.py, interop.py) and must give our logits.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cifar10, ResNet, Trainer, loadExported } from '../lib/index';
import { main } from '../lib/cli';
import { anyCifarDir, PYTHON, randomImages, readF32, relError, ROOT, tmpDir, withPython } from './helpers';

const N = 8;
const AKAMASTER = path.join(ROOT, 'test/python/akamaster.py');
const INTEROP = path.join(ROOT, 'test/python/interop.py');

function input(dir: string): Float32Array {
  const x = randomImages(N, 3);
  fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.from(x.buffer));
  return x;
}

for (const [depth, option] of [[20, 'A'], [32, 'A'], [20, 'B']] as const) {
  withPython(['safetensors', 'numpy'])(`akamaster ResNet-${depth} option ${option}: its checkpoints (zip, legacy, DataParallel) and safetensors load with its logits`, async (t) => {
    const dir = tmpDir();
    const x = input(dir);
    const f = (n: string) => path.join(dir, n);
    execFileSync(PYTHON, [AKAMASTER, 'make', '--depth', String(depth), '--option', option, '--input', f('in.f32'), '--n', String(N),
      '--logits', f('ref.f32'), '--zip', f('zip.th'), '--legacy', f('legacy.th'), '--safetensors', f('sd.safetensors')]);
    const ref = readF32(f('ref.f32'));
    for (const file of ['zip.th', 'legacy.th', 'sd.safetensors']) {
      const m = await ResNet.load(f(file), { device: 'cpu' });
      t.deepEqual(m.config, { depth, shortcut: option, numClasses: 10, inChannels: 3 }, file);
      const err = relError(await m.predict(x), ref);
      t.log(`${file}: relative error ${err.toExponential(2)}`);
      t.true(err < 1e-5, `${file}: relative error ${err}`);
      t.like(m.meta.imported, { layout: 'akamaster', file, ...(file.endsWith('.th') ? { best_prec1: 91.25, epoch: 200 } : {}) });
      t.is(m.normalization, undefined, 'foreign weights carry no normalization');
      m.dispose();
    }
    // Written back in its layout, akamaster's own model loads it and gives the same logits.
    const m = await ResNet.load(f('legacy.th'), { device: 'cpu' });
    await m.save(f('back.th'), { format: 'akamaster' });
    const out = execFileSync(PYTHON, ['-c', `
import sys, torch, numpy as np
sys.path.insert(0, ${JSON.stringify(path.dirname(AKAMASTER))})
from akamaster import ResNet
m = ResNet(${(depth - 2) / 6}, 10, '${option}')
ck = torch.load(sys.argv[1], weights_only=True)
m.load_state_dict({k[len('module.'):]: v for k, v in ck['state_dict'].items()})
m.eval()
x = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.float32).reshape(${N}, 3, 32, 32))
ref = torch.from_numpy(np.fromfile(sys.argv[3], dtype=np.float32).reshape(${N}, 10))
print(((m(x) - ref).abs().max() / ref.abs().max()).item())`, f('back.th'), f('in.f32'), f('ref.f32')], { encoding: 'utf8' });
    t.true(Number(out) < 1e-5, `akamaster's model on our export: relative error ${out}`);
    // And the imported model trains on, evaluates and saves like any other.
    const data = (await Cifar10.load(anyCifarDir(t), { split: 'train', holdout: 500 })).validation!;
    await new Trainer(m, { iterations: 2, batchSize: 32 }).fit(data);
    await m.save(f('ours.pt'));
    t.deepEqual((await ResNet.load(f('ours.pt'), { device: 'cpu' })).config, { depth, shortcut: option, numClasses: 10, inChannels: 3 });
  });
}

withPython(['safetensors', 'numpy'])('safetensors: Python reads what we write (meta in __metadata__) and we read what it writes', async (t) => {
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  const m = new ResNet({ depth: 20, seed: 3, device: 'cpu' });
  const norm = { kind: 'channel' as const, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };
  await m.save(f('m.safetensors'), { meta: { note: 'x' }, normalization: norm });
  await m.save(f('m.pt'));
  const r = JSON.parse(execFileSync(PYTHON, [INTEROP, 'read-safetensors', '--file', f('m.safetensors'), '--ckpt', f('m.pt')], { encoding: 'utf8' }));
  t.true(r.keys_equal);
  t.is(r.max_diff, 0);
  t.is(r.format, 'resnet-cifar');
  t.like(r.meta, { format: 'resnet-cifar', depth: 20, shortcut: 'A', num_classes: 10, note: 'x', normalization: { kind: 'channel' } });
  const back = await ResNet.load(f('m.safetensors'), { device: 'cpu' });
  const x = randomImages(4);
  t.deepEqual(await back.predict(x), await m.predict(x));
  t.deepEqual(back.normalization, { kind: 'channel', mean: Array.from(Float32Array.from(norm.mean)), std: Array.from(Float32Array.from(norm.std)) });
  t.is(back.meta.note, 'x');
  // Written by Python's save_file: a seed-layout state dict.
  input(dir);
  execFileSync(PYTHON, [INTEROP, 'write-safetensors', '--out', f('py.safetensors'), '--depth', '20', '--input', f('in.f32'),
    '--n', String(N), '--logits', f('py.f32')]);
  const py = await ResNet.load(f('py.safetensors'), { device: 'cpu' });
  t.deepEqual(py.config, { depth: 20, shortcut: 'B', numClasses: 10, inChannels: 3 });
  t.like(py.meta.imported, { layout: 'resnet-cifar' });
  const err = relError(await py.predict(randomImages(N, 3)), readF32(f('py.f32')));
  t.true(err < 1e-5, `relative error ${err}`);
});

test('damaged safetensors and legacy files are clear errors naming the file; nothing is written', async (t) => {
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  await m.save(f('ok.safetensors'));
  const good = fs.readFileSync(f('ok.safetensors'));
  const headerLen = Number(good.readBigUInt64LE(0));
  const header = good.subarray(8, 8 + headerLen).toString('utf8');
  const write = (name: string, bytes: Buffer) => { fs.writeFileSync(f(name), bytes); return f(name); };
  const withHeader = (h: string) => {
    const hb = Buffer.from(h.padEnd(headerLen));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    return Buffer.concat([len, hb, good.subarray(8 + headerLen)]);
  };
  const cases: [string, Buffer, RegExp][] = [
    ['cut.safetensors', good.subarray(0, good.length - 100), /is not a valid safetensors file: tensor '.*' ends at byte \d+ of a \d+-byte data section \(the file is cut short\)/],
    ['json.safetensors', withHeader(header.replace('{', '[')), /is not a valid safetensors file|not a resnet-cifar|not a file written/],
    ['dtype.safetensors', withHeader(header.replace('"F32"', '"F99"')), /unknown dtype 'F99'/],
    ['bytes.safetensors', withHeader(header.replace('"shape":[16,3,3,3]', '"shape":[16,3,3,4]')), /holds \d+ bytes but its shape and dtype need \d+/],
  ];
  for (const [name, bytes, re] of cases) {
    const file = write(name, bytes);
    const err = await t.throwsAsync(ResNet.load(file, { device: 'cpu' }));
    t.true(err!.message.includes(file), `${name}: ${err!.message}`);
    t.regex(err!.message, re, name);
  }
  // A conversion that fails leaves no output behind.
  const out = f('never.pt');
  const code = await main(['convert', f('cut.safetensors'), out]);
  t.is(code, 1);
  t.false(fs.existsSync(out));
  t.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('never')), []);
});

withPython()('a legacy torch.save file cut short is a clear error naming the file', async (t) => {
  const dir = tmpDir();
  const legacy = path.join(dir, 'legacy.th');
  execFileSync(PYTHON, ['-c', `import torch; torch.save({'conv1.weight': torch.ones(16,3,3,3)}, ${JSON.stringify(legacy)}, _use_new_zipfile_serialization=False)`]);
  const bytes = fs.readFileSync(legacy);
  const cut = path.join(dir, 'cut.th');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 64));
  await t.throwsAsync(ResNet.load(cut, { device: 'cpu' }), { message: new RegExp(`${cut} is a damaged or unsupported legacy torch.save file: cut short`) });
});

withPython(['numpy'])('a state dict of an unknown layout, or one that does not match, names what it saw and what it expects', async (t) => {
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  execFileSync(PYTHON, ['-c', `
import torch, sys
torch.save({'features.0.weight': torch.ones(2), 'classifier.weight': torch.ones(2)}, sys.argv[1])
torch.save({'conv1.weight': torch.ones(16,3,3,3), 'linear.weight': torch.ones(10,64), 'layer1.0.conv1.weight': torch.ones(16,16,3,3)}, sys.argv[2])
`, f('vgg.pt'), f('half.pt')]);
  await t.throwsAsync(ResNet.load(f('vgg.pt'), { device: 'cpu' }), {
    message: /vgg\.pt holds a state dict of an unknown layout \(keys: classifier\.weight, features\.0\.weight\); known layouts: resnet-cifar .* and akamaster/,
  });
  await t.throwsAsync(ResNet.load(f('half.pt'), { device: 'cpu' }), { message: /half\.pt: its stages hold 1, 0 and 0 blocks/ });
  // Every key consumed and every shape checked: an akamaster ResNet-20 file into a ResNet-32 names the first gap.
  input(dir);
  execFileSync(PYTHON, [AKAMASTER, 'make', '--depth', '20', '--option', 'A', '--input', f('in.f32'), '--n', String(N),
    '--logits', f('ref.f32'), '--zip', f('r20.th')]);
  const m32 = new ResNet({ depth: 32, device: 'cpu' });
  const before = await m32.predict(randomImages(2));
  await t.throwsAsync(m32.loadStateDict(f('r20.th')), { message: /r20\.th does not match ResNet-32 \(shortcut A, 10 classes\): missing key 'block1\.3\.conv1\.weight'/ });
  t.deepEqual(await m32.predict(randomImages(2)), before, 'a failed load changes nothing');
  // The same file into a ResNet-20 works: loadStateDict takes the foreign layouts too.
  const m20 = new ResNet({ depth: 20, device: 'cpu' });
  await m20.loadStateDict(f('r20.th'));
  t.true(relError(await m20.predict(randomImages(N, 3)), readF32(f('ref.f32'))) < 1e-5);
});

withPython()('AOTInductor packages (torch.export + aoti_compile_and_package) give PyTorch\'s logits; the wrong device, CPU or file is a clear error', async (t) => {
  // Compiling takes about half a minute on 2 cores: once per torch version, kept in the temp folder.
  const version = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  const cache = path.join(os.tmpdir(), `resnet-cifar-aoti-${version}`);
  fs.mkdirSync(cache, { recursive: true });
  const f = (n: string) => path.join(cache, n);
  const x = input(cache);
  if (!fs.existsSync(f('r8.pt2')) || !fs.existsSync(f('ref.f32'))) {
    execFileSync(PYTHON, [INTEROP, 'aoti', '--out', f('r8.pt2'), '--input', f('in.f32'), '--n', String(N), '--logits', f('ref.f32'), '--depth', '8'], { stdio: 'ignore' });
  }
  const m = await loadExported(f('r8.pt2'), { device: 'cpu' });
  t.is(m.numClasses, 10);
  const err = relError(await m.predict(x), readF32(f('ref.f32')));
  t.log(`AOTInductor package vs PyTorch eager: relative error ${err.toExponential(2)}`);
  t.true(err < 1e-5, `relative error ${err}`);
  const data = (await Cifar10.load(anyCifarDir(t), { split: 'train', holdout: 500 })).validation!;
  const r = await m.evaluate(data, { batchSize: 128 });
  t.is(r.count, 500);
  const other = path.join(tmpDir(), 'cuda.pt2');
  execFileSync(PYTHON, [INTEROP, 'retarget', '--src', f('r8.pt2'), '--out', other, '--device', 'cuda']);
  await t.throwsAsync(loadExported(other, { device: 'cpu' }), { message: /cuda\.pt2 was compiled for cuda, not cpu: export it again for this device/ });
  // Compiled for instructions this CPU lacks: refused before the package's code is loaded (it would die of SIGILL).
  const retarget = (name: string, flags: string[]) => {
    const out = path.join(tmpDir(), name);
    execFileSync(PYTHON, [INTEROP, 'retarget', '--src', f('r8.pt2'), '--out', out, ...flags]);
    return out;
  };
  const amx = /\bamx_tile\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  const amxPackage = retarget('amx.pt2', ['--isa', 'AVX512 AVX512_VNNI AMX_TILE']);
  if (amx) {
    t.log('this CPU has AMX: the package that names it loads and runs');
    t.true(relError(await (await loadExported(amxPackage, { device: 'cpu' })).predict(x), readF32(f('ref.f32'))) < 1e-5);
  } else {
    await t.throwsAsync(loadExported(amxPackage, { device: 'cpu' }), {
      message: /amx\.pt2 was compiled for a CPU with AVX512 AVX512_VNNI AMX_TILE \(its AOTI_CPU_ISA\) and cannot run on this one \(.+\): this CPU lacks (.+, )?amx_tile, amx_bf16, amx_int8\. Export it again on this CPU, or compile it for AVX2/,
    });
  }
  await t.throwsAsync(loadExported(retarget('arm.pt2', ['--machine', 'aarch64', '--isa', 'ASIMD']), { device: 'cpu' }), {
    message: /arm\.pt2 was compiled for a CPU with ASIMD .*: it was compiled for aarch64, this machine is x86_64/,
  });
  await t.throwsAsync(loadExported(retarget('future.pt2', ['--isa', 'AVX1024']), { device: 'cpu' }), {
    message: /future\.pt2 .*: its instruction set AVX1024 is one this library does not know/,
  });
  const junk = path.join(tmpDir(), 'junk.pt2');
  fs.writeFileSync(junk, 'not a package');
  await t.throwsAsync(loadExported(junk, { device: 'cpu' }), { message: /junk\.pt2 is not an AOTInductor package/ });
  const ckpt = path.join(tmpDir(), 'ours.pt');
  await new ResNet({ depth: 8, device: 'cpu' }).save(ckpt);
  await t.throwsAsync(loadExported(ckpt, { device: 'cpu' }), { message: /ours\.pt is not an AOTInductor package/ });
});
