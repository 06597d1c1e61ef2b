import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExecutionContext } from 'ava';
import { IMAGE_SIZE } from '../lib/index';

export const ROOT = path.resolve(__dirname, '..');
export const PYTHON = process.env.PYTHON ?? 'python3';

export function tmpDir(prefix = 'resnet-cifar-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

let torchPython: boolean | undefined;
/** Python with torch, for parity checks. Absent: skip with a message, except under CI where it must exist. */
export function havePythonTorch(t: ExecutionContext): boolean {
  if (torchPython === undefined) {
    torchPython = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  }
  if (!torchPython) {
    if (process.env.CI) throw new Error(`${PYTHON} with torch is required under CI (python3 -m pip install torch)`);
    t.log(`skipped: ${PYTHON} has no torch (python3 -m pip install torch==2.13.0+cpu)`);
    t.pass();
  }
  return torchPython;
}

export function py(args: string[]): string {
  return execFileSync(PYTHON, [path.join(ROOT, 'test/python/seed_parity.py'), ...args], { encoding: 'utf8' });
}

/** CIFAR10_DIR (binary version) or undefined, with the skip message logged. */
export function cifarDir(t: ExecutionContext): string | undefined {
  const d = process.env.CIFAR10_DIR;
  if (d && fs.existsSync(path.join(d, 'test_batch.bin'))) return d;
  t.log('CIFAR10_DIR is not set (or has no test_batch.bin): using generated images instead of real CIFAR-10');
  return undefined;
}

const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.2435, 0.2616];

/** The first n test images, per-channel normalized, NCHW float32. */
export function cifarImages(dir: string, n: number): Float32Array {
  const raw = fs.readFileSync(path.join(dir, 'test_batch.bin')).subarray(0, n * 3073);
  const out = new Float32Array(n * IMAGE_SIZE);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < IMAGE_SIZE; j++) {
      const c = Math.floor(j / 1024);
      out[i * IMAGE_SIZE + j] = (raw[i * 3073 + 1 + j] / 255 - MEAN[c]) / STD[c];
    }
  }
  return out;
}

/** Deterministic pseudo-random normal-ish input. */
export function randomImages(n: number, seed = 7): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n * IMAGE_SIZE);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 3.4;
  }
  return out;
}

export function relError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

export function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * A CIFAR-10-shaped folder (test_batch.bin and data_batch_1..5.bin, 10,000 records each) of generated images whose
 * mean colour depends on the label, for tests that need a dataset where CIFAR10_DIR is absent.
 */
export function fakeCifarDir(): string {
  const dir = tmpDir('resnet-cifar-fake-');
  let s = 12345;
  const rec = 3073;
  const buf = Buffer.alloc(10_000 * rec);
  for (let i = 0; i < 10_000; i++) {
    const label = i % 10;
    buf[i * rec] = label;
    for (let j = 0; j < 3072; j++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      buf[i * rec + 1 + j] = Math.min(255, (label * 20 + (s >>> 24) / 2 + (j >> 10) * 10) | 0);
    }
  }
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), buf);
  fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), buf);
  for (let i = 2; i <= 5; i++) fs.symlinkSync('data_batch_1.bin', path.join(dir, `data_batch_${i}.bin`));
  return dir;
}

/** Real CIFAR-10 when CIFAR10_DIR is set, else generated images (logged). */
export function anyCifarDir(t: ExecutionContext): string {
  return cifarDir(t) ?? fakeCifarDir();
}

/** Max |a - b| over two checkpoints' state dicts (and momentum buffers where both have them), read by Python. */
export function maxWeightDiff(a: string, b: string): number {
  const code = `import torch,sys,json
A=torch.load(sys.argv[1],weights_only=True);B=torch.load(sys.argv[2],weights_only=True)
def d(x,y):
  assert x.keys()==y.keys(), (x.keys(), y.keys())
  return max([(x[k].double()-y[k].double()).abs().max().item() for k in x] or [0.0])
r=d(A['state_dict'],B['state_dict'])
if 'trainer' in A and 'trainer' in B: r=max(r,d(A['trainer']['momentum'],B['trainer']['momentum']))
print(json.dumps(r))`;
  return JSON.parse(execFileSync(PYTHON, ['-c', code, a, b], { encoding: 'utf8' }));
}
