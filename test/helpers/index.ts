import { type ChildProcessByStdio, execFile, spawn, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test, { type ExecutionContext, type Implementation } from 'ava';
import { IMAGE_SIZE } from '../../lib/index';
import { readCheckpointTensors } from '../../lib/io/checkpoint';

export const ROOT = path.resolve(__dirname, '../..');
export const PYTHON = process.env.PYTHON ?? 'python3';
const execFileAsync = promisify(execFile);

export function tmpDir(prefix = 'resnet-cifar-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** One image's interleaved HWC bytes (as decoders give them) in planes, CHW (as datasets hold them). */
export function chwOf(hwc: Uint8Array, channels: number): Buffer {
  const plane = hwc.length / channels;
  const chw = Buffer.alloc(hwc.length);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) chw[c * plane + p] = hwc[p * channels + c];
  return chw;
}

export interface Finished { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * A process started in the project's root with `env`, and its output when it ends. `limit`, when given, is the
 * backstop for a child that hangs: a number kills it after that many ms in all; `{ silentMs }` kills it only after
 * that many ms without a sign of progress (output on stdout or stderr, or any byte on fd 3, a pipe the child may
 * write heartbeats to), so that a child slowed by the CPU or by the suite's load is not taken for a hung one.
 * `child` lets a test signal it sooner.
 */
export function launch(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, limit?: number | { silentMs: number }) {
  const silent = typeof limit === 'object';
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', ...(silent ? ['pipe' as const] : [])] }) as
    ChildProcessByStdio<null, Readable, Readable>;
  const done = new Promise<Finished>((resolve, reject) => {
    let stdout = '', stderr = '';
    let kill: NodeJS.Timeout | undefined;
    const arm = () => {
      if (limit === undefined) return;
      clearTimeout(kill);
      kill = setTimeout(() => child.kill('SIGKILL'), silent ? limit.silentMs : limit);
    };
    arm();
    child.stdout.on('data', (d) => { stdout += d; if (silent) arm(); });
    child.stderr.on('data', (d) => { stderr += d; if (silent) arm(); });
    if (silent) (child.stdio[3] as Readable).on('data', arm);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(kill); resolve({ code, signal, stdout, stderr }); });
  });
  return { child, done };
}

const pythonHas = new Map<string, boolean>();

/**
 * Runs test/python/seed_parity.py without blocking the event loop: a synchronous child process would hold back
 * other tests' progress events and abort signals (in ava, a file's tests share one thread) for minutes.
 */
export async function py(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(PYTHON, [path.join(ROOT, 'test/python/seed_parity.py'), ...args],
    { encoding: 'utf8', maxBuffer: 256 << 20 });
  return stdout;
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

/**
 * Max |a - b| over two checkpoints' weights and buffers and their momentum buffers, read in JS. The two must hold
 * the same tensor names (and both have momentum, or neither).
 */
export async function maxWeightDiff(a: string, b: string): Promise<number> {
  const [A, B] = await Promise.all([readCheckpointTensors(a), readCheckpointTensors(b)]);
  const diff = (x: Record<string, Float32Array>, y: Record<string, Float32Array>, what: string) => {
    const keys = Object.keys(x).sort();
    if (JSON.stringify(keys) !== JSON.stringify(Object.keys(y).sort())) throw new Error(`${what}: the two checkpoints hold other tensors`);
    let m = 0;
    for (const k of keys) {
      if (x[k].length !== y[k].length) throw new Error(`${what}: ${k} has ${x[k].length} vs ${y[k].length} values`);
      for (let i = 0; i < x[k].length; i++) m = Math.max(m, Math.abs(x[k][i] - y[k][i]));
    }
    return m;
  };
  return Math.max(diff(A.stateDict, B.stateDict, 'state_dict'), diff(A.momentum, B.momentum, 'momentum'));
}

/**
 * The test function for tests that need a feature: `test` when `available`; otherwise, under CI (where .ci/run
 * installs every feature) a test that fails naming what is missing, and elsewhere `test.skip` with the reason in its
 * title, so that ava reports it as skipped instead of passed.
 */
export function requires(available: boolean, feature: string, howTo: string, register: TestRegister = test) {
  return (title: string, fn: Implementation<[]>): void => {
    if (available) register(title, fn);
    else if (process.env.CI) test(title, (t) => t.fail(`${feature} is required under CI (${howTo})`));
    else test.skip(`${title} [skipped: no ${feature}; ${howTo}]`, fn);
  };
}

/** How a test is registered: ava's `test`, `test.serial`, or another `requires(...)`. */
export type TestRegister = (title: string, fn: Implementation<[]>) => void;

/** Whether python3 has torch and `modules`, asked once (at registration: a test that lacks them is skipped). */
export function pythonTorchWith(modules: string[] = []): boolean {
  const key = ['torch', ...modules].join(',');
  if (!pythonHas.has(key)) pythonHas.set(key, spawnSync(PYTHON, ['-c', `import ${key}`], { stdio: 'ignore' }).status === 0);
  return pythonHas.get(key)!;
}

/** A test that needs python3 with torch (and `modules`): skipped without, a failure under CI. */
export function withPython(modules: string[] = [], register: TestRegister = test) {
  return requires(pythonTorchWith(modules), `${PYTHON} with ${['torch', ...modules].join(' and ')}`,
    `python3 -m pip install torch==2.13.0+cpu ${modules.join(' ')}`.trim(), register);
}

/** Real CIFAR-10 (CIFAR10_DIR with its batch files), or undefined. */
export const REAL_CIFAR: string | undefined = (() => {
  const d = process.env.CIFAR10_DIR;
  return d && fs.existsSync(path.join(d, 'test_batch.bin')) ? d : undefined;
})();

/** A test that needs real CIFAR-10: skipped without, a failure under CI. */
export function withRealCifar(register: TestRegister = test) {
  return requires(REAL_CIFAR !== undefined, 'real CIFAR-10', 'set CIFAR10_DIR to the cifar-10-batches-bin folder', register);
}

/** The real Fashion-MNIST files (Debian's dataset-fashion-mnist, or FASHION_MNIST_DIR), or undefined. */
export const FASHION_MNIST: string | undefined = (() => {
  const d = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
  return fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte.gz')) ? d : undefined;
})();

/** A test that needs the real Fashion-MNIST: skipped without, a failure under CI. */
export function withFashionMnist(register: TestRegister = test) {
  return requires(FASHION_MNIST !== undefined, 'real Fashion-MNIST', 'apt-get install dataset-fashion-mnist', register);
}
