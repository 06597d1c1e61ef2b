// The resnet-cifar command line: info, train, eval, predict, reproduce. User errors print one line (no stack)
// and exit non-zero; --json gives machine-readable output on stdout.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CIFAR10_CLASSES, Cifar10 } from './cifar10';
import { CHECKPOINT_FILE } from './checkpoint';
import { defaultCacheDir } from './download';
import { info } from './info';
import { pretrainedFile, pretrainedModels } from './pretrained';
import { CIFAR10_CHANNEL_NORMALIZATION, PAPER_TEST_ERRORS, ResNet, checkDepth, formatOf, type DeviceSpec, type Evaluation, type Normalization, type Shortcut } from './resnet';
import { loadExported, loadTorchScript } from './foreign';
import { RunError, readFinal, trainRun, type RunConfig, type RunFinal, curvePoints } from './run';
import { writeAtomic } from './files';
import { writeCurves, type CurvePoint } from './plots';
import { decodeImages, normalizeImages } from './images';
import type { FitProgress } from './trainer';
import { PRECISIONS, type Precision } from './precision';
import * as v from './validate';

export class UsageError extends Error {}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

type Opts = NonNullable<ParseArgsConfig['options']>;
const COMMON: Opts = { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } };
const DATA: Opts = { data: { type: 'string' }, download: { type: 'boolean' } };

const HELP: Record<string, string> = {
  main: `resnet-cifar — the CIFAR-10 ResNets of He et al. (2016) on libtorch, from Node.js

Usage: resnet-cifar <command> [options]     (from a checkout: npm run cli -- <command> …)

Commands:
  info        libtorch, CUDA, threads and where data is looked for
  train       train one network, writing a run folder (config, metrics, checkpoint, curves, final result)
  eval        test error, per-class errors and confusion matrix of weights, a TorchScript file or an AOTI package
  predict     class and probability for PNG/JPEG images
  convert     weights from one format to another (our checkpoint, safetensors, the seed's or akamaster's state dict,
              ONNX)
  reproduce   the paper's CIFAR-10 table and Figure 6: every depth × seed (× plain) as its own run

Run 'resnet-cifar <command> --help' for its options. Every command takes --json.`,
  info: `Usage: resnet-cifar info [--json]

Prints the libtorch in use (version, path, CUDA), CUDA devices, threads, the addon build and where CIFAR-10 is
looked for (--data, CIFAR10_DIR, the download cache).`,
  train: `Usage: resnet-cifar train [options]

  --depth N              6n+2: 20, 32, 44, 56, 110, … (default 20)
  --shortcut A|B|plain   identity + zero-padding (A, default), 1x1 projections (B) or no shortcuts
  --data DIR|FILE        cifar-10-batches-bin folder or cifar-10-binary.tar.gz (default: CIFAR10_DIR, cache)
  --download             fetch CIFAR-10 into the cache if it is not found
  --iterations N         default 64000 (the paper)
  --milestones a,b       lr ÷10 at these iterations (default 32000,48000; scaled with --iterations: 50 %, 75 %)
  --lr X                 default 0.1
  --batch-size N         default 128
  --seed N               data order, augmentation and initialisation (default 0)
  --holdout N            train on the first 50000-N images, evaluate on the last N (the paper's 45k/5k: 5000)
  --normalization pixel|channel   per-pixel mean (paper, default) or per-channel mean/std
  --precision fp32|tf32|bf16   compute precision (default fp32; bf16: convolutions in bfloat16, float32 weights;
                         tf32, CUDA only: TensorFloat-32 tensor-core rounding inside convolutions)
  --no-cuda-graphs       on CUDA, run every step eagerly instead of replaying it as a CUDA graph
  --warmup-lr X --warmup-iterations N | --warmup-until-error PCT   (ResNet-110: 0.01 until 80 % / ~400 it)
  --eval-every N         evaluate every N iterations (default iterations/20, at least 50) and at the end
  --checkpoint-every N   default 1000
  --device auto|cpu|cuda[:i]      default auto
  --out DIR              run folder (default runs/resnet<depth>[-<shortcut>]-seed<seed>)
  --resume               continue the run in --out from its checkpoint
  --json                 one JSON line per event instead of a progress bar / log lines
  --nproc-per-node N     data-parallel: N workers on this machine (the cores split between them; --batch-size is
                         per worker); with --nnodes M --node-rank K --master-addr A --master-port P across machines.
                         Workers started by torchrun (--no-python node …) join through its environment.
  --sync-bn              data-parallel: BatchNorm statistics over every worker's batch together (synchronized BN)

Writes into --out: config.json, metrics.jsonl, checkpoint.pt, curves.svg (redrawn as it goes), final.json,
events.out.tfevents.* (TensorBoard: tensorboard --logdir runs).
Ctrl-C stops after the current iteration with a checkpoint; --resume continues it.`,
  eval: `Usage: resnet-cifar eval (--pretrained NAME | --weights FILE | --torchscript FILE | --exported FILE) [--normalize N]
       [--data …] [--json]

Test error on the 10,000 CIFAR-10 test images, a per-class table and the confusion matrix.
--pretrained takes one of the networks shipped trained with the package ('resnet-cifar info' lists them).
--weights opens our checkpoints and the PyTorch world's state dicts and training checkpoints (the seed's nets.py,
akamaster/pytorch_resnet_cifar10), in torch.save's zip or legacy format or safetensors, reading plain data only.
--torchscript takes a torch.jit.save file, --exported an AOTInductor package (.pt2): both are programs that run
with your rights, so open them only from sources you would run code from.
  --normalize cifar|imagenet|MEAN/STD   how the model's own code normalized pixels/255 (MEAN/STD: a,b,c/d,e,f);
                   default: the checkpoint's stored normalization, else cifar (0.4914, 0.4822, 0.4465 / 0.2470, …)
  --shortcut A|plain   foreign weights without projections: which net they are (default A)
  --batch-size N   default 500        --device auto|cpu|cuda[:i]        --precision fp32|tf32|bf16`,
  predict: `Usage: resnet-cifar predict (--pretrained NAME | --weights FILE | --torchscript FILE | --exported FILE) IMAGE…
       [--top K] [--json]

Class and probability of each PNG/JPEG image (decoded with sharp, resized to 32x32 where needed); --pretrained,
--weights, --normalize and --shortcut as for eval.
  --device auto|cpu|cuda[:i]        --precision fp32|tf32|bf16`,
  convert: `Usage: resnet-cifar convert IN OUT [--to checkpoint|safetensors|state-dict|akamaster|onnx]
                              [--shortcut A|plain] [--input normalized|pixels]

Reads IN as eval's --weights does and writes OUT: our checkpoint (torch.save format), the same in safetensors, a
plain state dict in the seed's layout, akamaster/pytorch_resnet_cifar10's training-checkpoint layout, or an ONNX
graph (for ONNX Runtime in Node or a browser). The format comes from --to, else from OUT's extension
(.safetensors: safetensors; .onnx: ONNX; anything else: our checkpoint).
  --input pixels   ONNX: the graph takes RGB pixels in [0, 1] and normalizes them itself (with IN's normalization,
                   or --normalize's); default 'normalized', images normalized as predict takes them
OUT is written atomically, and only when the whole conversion succeeded.`,
  reproduce: `Usage: resnet-cifar reproduce --out DIR [options]

  --depths 20,32,44,56   depths to train (default 20,32,44,56)
  --seeds N              runs per network (default 5)
  --plain                also train the plain (no shortcut) nets, for Figure 6
  --iterations N         per run (default 64000; milestones at 50 % and 75 %)
  --workers N            train N runs at a time, each in its own process with the cores split between them
                         (default 1: one run after another in this process)
  --data, --download, --device, --batch-size, --lr, --eval-every, --checkpoint-every, --precision,
  --no-cuda-graphs       as for train

Each (depth, shortcut, seed) trains in its own folder under DIR/runs; finished runs are skipped and interrupted
ones resumed, so the same command continues after Ctrl-C or a crash. With --workers, a run that fails lets the
others finish, starts no new one and is named in the error. Writes DIR/table.md (mean ± std test error
beside the paper's and the seed's) and DIR/figure6.svg (+ .png): plain nets left, ResNets right, thin lines
training error, bold lines test error.`,
};

const SEED_ARTICLE: Record<number, number> = { 20: 8.59, 32: 7.73, 44: 7.54, 56: 7.88 };

function parse(cmd: string, argv: string[], options: Opts, positionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option/, 'unknown option');
    throw new UsageError(`${cmd}: ${msg}`);
  }
}

function int(name: string, s: string | undefined, def: number, min = 0): number {
  if (s === undefined) return def;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${name} expects an integer, got '${s}'`);
  const n = Number(s);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

function num(name: string, s: string | undefined, def: number): number {
  if (s === undefined) return def;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${s}'`);
  return n;
}

function list(name: string, s: string | undefined, def: number[], length?: number): number[] {
  if (s === undefined) return def;
  const xs = s.split(',').map((x) => x.trim());
  if (xs.some((x) => x === '' || !Number.isFinite(Number(x))) || (length !== undefined && xs.length !== length)) {
    throw new UsageError(`--${name} expects ${length ?? 'a list of'} comma-separated numbers, got '${s}'`);
  }
  return xs.map(Number);
}

function depthArg(s: string | undefined, def: number): number {
  const d = int('depth', s, def, 1);
  try {
    return checkDepth(d);
  } catch {
    throw new UsageError(`--depth must be 6n+2 (20, 32, 44, 56, 110, …), got ${d}`);
  }
}

function shortcutArg(s: string | undefined): Shortcut {
  const x = s ?? 'A';
  if (x !== 'A' && x !== 'B' && x !== 'plain') throw new UsageError(`--shortcut must be A, B or plain, got '${x}'`);
  return x;
}

function precisionArg(s: string | undefined): Precision {
  const x = s ?? 'fp32';
  if (!(PRECISIONS as readonly string[]).includes(x)) throw new UsageError(`--precision must be ${PRECISIONS.join(', ')}, got '${x}'`);
  return x as Precision;
}

function deviceArg(s: string | undefined): DeviceSpec {
  const x = s ?? 'auto';
  if (!v.DEVICE_PATTERN.test(x)) throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, got '${x}'`);
  return x as DeviceSpec;
}

async function dataArg(values: Values, json: boolean): Promise<string> {
  const source = typeof values.data === 'string' ? values.data : undefined;
  if (source !== undefined && !fs.existsSync(source)) throw new UsageError(`--data ${source} does not exist`);
  try {
    return await Cifar10.locate({
      source,
      download: values.download ? {
        onProgress: json || !process.stderr.isTTY ? undefined
          : (p) => process.stderr.write(`\rdownloading CIFAR-10: ${(p.received / 2 ** 20).toFixed(1)}${p.total ? ` / ${(p.total / 2 ** 20).toFixed(1)}` : ''} MiB`),
      } : false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const out = (s: string) => process.stdout.write(s + '\n');

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** A one-line progress bar on a TTY, plain log lines otherwise, or JSON lines. */
function progressPrinter(json: boolean, label: string): { onProgress: (e: FitProgress) => void; end: () => void } {
  const tty = !json && process.stderr.isTTY === true;
  let last = '';
  let lastTest = '';
  const clear = () => {
    if (tty && last) process.stderr.write('\r' + ' '.repeat(last.length) + '\r');
  };
  return {
    onProgress: (e) => {
      if (json) {
        out(JSON.stringify(e.kind === 'eval' ? { kind: 'eval', iteration: e.iteration, error: e.error, loss: e.loss } : e));
        return;
      }
      if (e.kind === 'eval') {
        lastTest = ` | eval ${e.error.toFixed(2)} %`;
        clear();
        (tty ? process.stderr : process.stdout).write(`${label} eval at ${e.iteration}: error ${e.error.toFixed(2)} %, loss ${e.loss.toFixed(3)}\n`);
        return;
      }
      if (e.kind === 'checkpoint') return;
      const text = `it ${e.iteration}/${e.iterations} lr ${e.lr.toPrecision(2)} loss ${e.loss.toFixed(3)} ` +
        `train err ${e.trainError.toFixed(1)} % ${e.imagesPerSecond.toFixed(0)} img/s ETA ${duration(e.eta)}`;
      if (tty) {
        const width = 24;
        const done = Math.round((width * e.iteration) / e.iterations);
        const line = `${label} [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${text}${lastTest}`;
        const cols = process.stderr.columns || 160;
        clear();
        last = line.slice(0, cols - 1);
        process.stderr.write(last);
      } else {
        out(`${label} ${text}`);
      }
    },
    end: () => {
      if (tty && last) process.stderr.write('\n');
      last = '';
    },
  };
}

/** Ctrl-C (SIGINT, SIGTERM) as an AbortSignal; `quiet` (a data-parallel worker other than rank 0) says nothing. */
function stopSignal(quiet = false): { signal: AbortSignal; dispose: () => void; stopped: () => boolean } {
  const ac = new AbortController();
  let first = 0;
  const onSig = () => {
    // A second Ctrl-C leaves now; one that follows the first within a second is the same Ctrl-C arriving twice (a
    // worker gets the terminal's and the launcher's forwarded signal).
    if (ac.signal.aborted) {
      if (Date.now() - first > 1000) process.exit(130);
      return;
    }
    first = Date.now();
    if (!quiet) process.stderr.write('\nstopping after the current iteration (a checkpoint is written; run again with --resume)\n');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    signal: ac.signal,
    stopped: () => ac.signal.aborted,
    dispose: () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function cmdInfo(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, {});
  if (values.help) return help('info');
  const i = info();
  const data = {
    CIFAR10_DIR: process.env.CIFAR10_DIR ?? null,
    cache: defaultCacheDir(),
    cached: fs.existsSync(path.join(defaultCacheDir(), 'cifar-10-binary.tar.gz')),
  };
  const pretrained = (await pretrainedModels()).map((m) => ({ name: m.name, depth: m.config.depth, shortcut: m.config.shortcut, testError: m.testError }));
  if (values.json) {
    out(JSON.stringify({ ...i, data, pretrained }));
    return 0;
  }
  out(`libtorch   ${i.libtorch.version} at ${i.libtorch.path} (${i.libtorch.cuda ? 'CUDA build' : 'CPU-only build'})`);
  out(`CUDA       ${i.cuda.available ? `available, ${i.cuda.deviceCount} device(s), cuDNN ${i.cuda.cudnn ? 'yes' : 'no'}` : 'not available'}`);
  out(`threads    ${i.threads} (setNumThreads / OMP_NUM_THREADS); fused BN + ReLU kernels: ${i.fusedKernels}`);
  out(`cpu bf16   ${i.cpu.bf16 === 'emulated' ? 'no AMX-BF16 or AVX512-BF16: --precision bf16 works but is slower than fp32'
    : `${i.cpu.bf16 === 'amx-bf16' ? 'AMX-BF16' : 'AVX512-BF16'} (--precision bf16 runs convolutions on it)`}`);
  out(`addon      ${i.addon.build} build, ${i.addon.path}; distributed: ${i.distributed.length ? i.distributed.join(', ') : 'none (built without libgloo-dev)'}`);
  out(`pretrained ${pretrained.length ? pretrained.map((m) => `${m.name} (ResNet-${m.depth}, test error ${m.testError.toFixed(2)} %)`).join(', ')
    : 'none installed'}; eval/predict --pretrained NAME`);
  out(`data       --data, else CIFAR10_DIR (${data.CIFAR10_DIR ?? 'not set'}), else ${path.join(data.cache, 'cifar-10-binary.tar.gz')} (${data.cached ? 'present' : 'absent; --download fetches it'})`);
  return 0;
}

function trainConfig(values: Values, depth: number, shortcut: Shortcut, seed: number): RunConfig {
  const s = (k: string) => values[k] as string | undefined;
  const iterations = int('iterations', s('iterations'), 64_000, 1);
  const milestones = list('milestones', s('milestones'),
    iterations === 64_000 ? [32_000, 48_000] : [Math.round(iterations / 2), Math.round(iterations * 0.75)]);
  const norm = s('normalization') ?? 'pixel';
  if (norm !== 'pixel' && norm !== 'channel') throw new UsageError(`--normalization must be pixel or channel, got '${norm}'`);
  const warmupLr = s('warmup-lr');
  const warmup = warmupLr === undefined ? undefined : {
    lr: num('warmup-lr', warmupLr, 0.01),
    iterations: s('warmup-iterations') === undefined ? undefined : int('warmup-iterations', s('warmup-iterations'), 400, 1),
    untilError: s('warmup-until-error') === undefined ? undefined : num('warmup-until-error', s('warmup-until-error'), 80),
  };
  if (warmupLr === undefined && (s('warmup-iterations') || s('warmup-until-error'))) {
    throw new UsageError('--warmup-iterations / --warmup-until-error need --warmup-lr');
  }
  return {
    depth, shortcut, seed, iterations, milestones,
    lr: num('lr', s('lr'), 0.1),
    batchSize: int('batch-size', s('batch-size'), 128, 1),
    holdout: int('holdout', s('holdout'), 0),
    device: deviceArg(s('device')),
    evalEvery: int('eval-every', s('eval-every'), Math.max(50, Math.round(iterations / 20)), 1),
    checkpointEvery: int('checkpoint-every', s('checkpoint-every'), 1000, 1),
    normalization: norm,
    warmup,
    precision: precisionArg(s('precision')),
    worldSize: process.env.WORLD_SIZE !== undefined && process.env.RANK !== undefined ? Number(process.env.WORLD_SIZE) : 1,
    syncBatchNorm: values['sync-bn'] === true,
    cudaGraphs: values['no-cuda-graphs'] !== true,
  };
}

const TRAIN_OPTS: Opts = {
  ...DATA,
  depth: { type: 'string' }, shortcut: { type: 'string' }, iterations: { type: 'string' }, milestones: { type: 'string' },
  lr: { type: 'string' }, 'batch-size': { type: 'string' }, seed: { type: 'string' }, holdout: { type: 'string' },
  device: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, normalization: { type: 'string' },
  precision: { type: 'string' },
  'warmup-lr': { type: 'string' }, 'warmup-iterations': { type: 'string' }, 'warmup-until-error': { type: 'string' },
  'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' },
  'nproc-per-node': { type: 'string' }, nnodes: { type: 'string' }, 'node-rank': { type: 'string' },
  'master-addr': { type: 'string' }, 'master-port': { type: 'string' }, 'sync-bn': { type: 'boolean' },
  'no-cuda-graphs': { type: 'boolean' },
};

const LAUNCH_OPTS = ['nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port'];

/**
 * Child processes running this CLI again (`args` after the script), and the stop signals this process receives
 * forwarded to every one still running; `dispose` stops forwarding.
 */
async function cliChildren() {
  const { spawn } = await import('node:child_process');
  const live = new Set<import('node:child_process').ChildProcess>();
  const forward = (sig: NodeJS.Signals) => () => { for (const c of live) c.kill(sig); };
  const onInt = forward('SIGINT'), onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    spawn: (args: string[], env: NodeJS.ProcessEnv, stdio: import('node:child_process').StdioOptions) => {
      const c = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { env, stdio });
      live.add(c);
      c.on('close', () => live.delete(c));
      return c;
    },
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/**
 * train --nproc-per-node N [--nnodes M --node-rank K --master-addr A --master-port P]: this machine's N workers, as
 * torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; the cores split between them). Rank 0
 * prints and keeps the run folder; the others print only errors. Ctrl-C reaches every worker, which stop together
 * with a checkpoint. Resolves with rank 0's exit code, or the first failure's.
 */
async function launch(argv: string[], values: Values): Promise<number> {
  const s = (k: string) => values[k] as string | undefined;
  const perNode = int('nproc-per-node', s('nproc-per-node'), 1, 1);
  const nnodes = int('nnodes', s('nnodes'), 1, 1);
  const nodeRank = int('node-rank', s('node-rank'), 0);
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank must be below --nnodes (${nnodes}), got ${nodeRank}`);
  const port = int('master-port', s('master-port'), 29500, 1);
  if (port > 65535) throw new UsageError(`--master-port must be at most 65535, got ${port}`);
  const addr = s('master-addr') ?? '127.0.0.1';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '').split('=')[0];
    if (LAUNCH_OPTS.includes(name)) {
      if (!argv[i].includes('=')) i++;
      continue;
    }
    rest.push(argv[i]);
  }
  const threads = Math.max(1, Math.floor(os.availableParallelism() / perNode));
  const world = perNode * nnodes;
  const workers = await cliChildren();
  const children = Array.from({ length: perNode }, (_, local) => {
    const rank = nodeRank * perNode + local;
    return workers.spawn(['train', ...rest], {
      ...process.env, RANK: String(rank), LOCAL_RANK: String(local), WORLD_SIZE: String(world), LOCAL_WORLD_SIZE: String(perNode),
      MASTER_ADDR: addr, MASTER_PORT: String(port), OMP_NUM_THREADS: String(threads),
    }, ['ignore', rank === 0 ? 'inherit' : 'ignore', 'inherit']);
  });
  try {
    const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => {
      c.on('close', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 1) : 1)));
    })));
    return codes.find((c) => c !== 0 && c !== 130) ?? codes[0];
  } finally {
    workers.dispose();
  }
}

function runName(depth: number, shortcut: Shortcut, seed: number): string {
  return `resnet${depth}${shortcut === 'A' ? '' : `-${shortcut}`}-seed${seed}`;
}

async function cmdTrain(argv: string[]): Promise<number> {
  const { values } = parse('train', argv, TRAIN_OPTS);
  if (values.help) return help('train');
  if (LAUNCH_OPTS.some((k) => values[k] !== undefined)) return launch(argv, values);
  const json = values.json === true;
  const follower = process.env.RANK !== undefined && process.env.WORLD_SIZE !== undefined && Number(process.env.RANK) !== 0;
  const depth = depthArg(values.depth as string | undefined, 20);
  const shortcut = shortcutArg(values.shortcut as string | undefined);
  const seed = int('seed', values.seed as string | undefined, 0);
  const config = trainConfig(values, depth, shortcut, seed);
  if (config.syncBatchNorm && config.worldSize < 2) {
    throw new UsageError('--sync-bn synchronizes BatchNorm between data-parallel workers: it needs --nproc-per-node (or --nnodes) with 2 or more in all, or torchrun\'s environment');
  }
  const data = await dataArg(values, json);
  const dir = path.resolve((values.out as string | undefined) ?? path.join('runs', runName(depth, shortcut, seed)));
  const stop = stopSignal(follower);
  const label = `ResNet-${depth}${shortcut === 'A' ? '' : ` ${shortcut}`}`;
  const p = follower ? { onProgress: () => undefined, end: () => undefined } : progressPrinter(json, label);
  const ranks = config.worldSize > 1 ? `, ${config.worldSize} ranks × batch ${config.batchSize}` : '';
  if (!json && !follower) out(`${label}: ${config.iterations} iterations, batch ${config.batchSize}${ranks}, lr ${config.lr} (÷10 at ${config.milestones.join(', ')}), seed ${seed}, ${config.precision}, data ${data} -> ${dir}`);
  try {
    const r = await trainRun({ data, out: dir, config, resume: values.resume === true, signal: stop.signal, onProgress: p.onProgress, reportEvery: json ? 50 : 10 });
    p.end();
    if (follower) return r.history.stopped === 'completed' ? 0 : 130;
    if (!json) for (const note of r.history.notes) out(`note: ${note}`);
    if (!r.final) {
      if (json) out(JSON.stringify({ kind: 'stopped', iteration: r.history.iterations, checkpoint: r.history.checkpoint }));
      else out(`stopped at iteration ${r.history.iterations}; checkpoint ${r.history.checkpoint}; continue with --resume --out ${dir}`);
      return 130;
    }
    if (json) out(JSON.stringify({ kind: 'final', ...r.final }));
    else out(`done: test error ${r.final.testError.toFixed(2)} % after ${r.final.iterations} iterations; ${dir}/final.json`);
    return 0;
  } finally {
    p.end();
    stop.dispose();
  }
}

function printEvaluation(r: Evaluation, classes: readonly string[], what: string): void {
  out(`${what}: test error ${r.error.toFixed(2)} % (loss ${r.loss.toFixed(4)}) on ${r.count} images`);
  out('');
  out('class        images  error %');
  for (const c of r.perClass) out(`${c.name.padEnd(12)} ${String(c.count).padStart(6)}  ${c.error.toFixed(2).padStart(7)}`);
  out('');
  out('confusion (rows: true class, columns: predicted)');
  const short = classes.map((c) => c.slice(0, 5));
  out(' '.repeat(12) + short.map((s) => s.padStart(6)).join(''));
  r.confusion.forEach((row, i) => out(classes[i].padEnd(12) + row.map((x) => String(x).padStart(6)).join('')));
}

const MODEL_OPTS: Opts = {
  pretrained: { type: 'string' }, weights: { type: 'string' }, checkpoint: { type: 'string' }, torchscript: { type: 'string' }, exported: { type: 'string' },
  normalize: { type: 'string' }, mean: { type: 'string' }, std: { type: 'string' }, shortcut: { type: 'string' },
  device: { type: 'string' }, precision: { type: 'string' },
};

const IMAGENET_NORMALIZATION: Normalization = { kind: 'channel', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** --normalize cifar | imagenet | a,b,c/d,e,f (or the older --mean a,b,c --std d,e,f); undefined when not given. */
function normalizeArg(values: Values): Normalization | undefined {
  const s = values.normalize as string | undefined;
  if (s !== undefined && (values.mean || values.std)) throw new UsageError('give --normalize or --mean/--std, not both');
  if (values.mean || values.std) {
    const c = CIFAR10_CHANNEL_NORMALIZATION as { mean: number[]; std: number[] };
    return { kind: 'channel', mean: list('mean', values.mean as string | undefined, c.mean, 3), std: list('std', values.std as string | undefined, c.std, 3) };
  }
  if (s === undefined) return undefined;
  if (s === 'cifar') return CIFAR10_CHANNEL_NORMALIZATION;
  if (s === 'imagenet') return IMAGENET_NORMALIZATION;
  const parts = s.split('/');
  if (parts.length !== 2) throw new UsageError(`--normalize expects cifar, imagenet or MEAN/STD (a,b,c/d,e,f), got '${s}'`);
  return { kind: 'channel', mean: list('normalize', parts[0], [], 3), std: list('normalize', parts[1], [], 3) };
}

function existingFile(file: string): string {
  if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist`);
  return file;
}

async function loadModel(values: Values, cmd: string) {
  const sources = (['pretrained', 'weights', 'checkpoint', 'torchscript', 'exported'] as const).filter((k) => values[k] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError(`${cmd} needs exactly one of --pretrained NAME, --weights FILE, --torchscript FILE or --exported FILE`);
  }
  const kind = sources[0];
  const device = deviceArg(values.device as string | undefined);
  const normalize = normalizeArg(values);
  if (kind === 'pretrained' || kind === 'weights' || kind === 'checkpoint') {
    let m: ResNet;
    let from: string;
    if (kind === 'pretrained') {
      const name = values.pretrained as string;
      try {
        pretrainedFile(name);
      } catch (e) {
        throw new UsageError(`--pretrained: ${(e as Error).message}`);
      }
      m = await ResNet.pretrained(name, { device });
      from = `pretrained '${name}'`;
    } else {
      const file = existingFile(values[kind] as string);
      const shortcut = values.shortcut === undefined ? undefined : shortcutArg(values.shortcut as string);
      m = await ResNet.load(file, { device, shortcut });
      const imported = m.meta.imported as { layout?: string } | undefined;
      from = imported?.layout ? `${imported.layout} weights ${file}` : file;
    }
    // Our checkpoints know their normalization; foreign weights need the one their code trained with.
    const norm = normalize ?? m.normalization ?? CIFAR10_CHANNEL_NORMALIZATION;
    return {
      name: `ResNet-${m.config.depth} (${m.config.shortcut}) from ${from}`, norm, dispose: () => m.dispose(),
      predict: (x: Float32Array, n: number, precision: Precision) => m.predict(x, n, { precision }),
      evaluate: (d: Cifar10, batchSize: number, precision: Precision) => m.evaluate(d, { batchSize, precision, normalization: norm }),
    };
  }
  const file = existingFile(values[kind] as string);
  const load = kind === 'torchscript' ? loadTorchScript : loadExported;
  const m = await load(file, { device, normalize: normalize ?? CIFAR10_CHANNEL_NORMALIZATION });
  return {
    name: `${kind === 'torchscript' ? 'TorchScript' : 'AOTInductor package'} ${file}`, norm: m.normalization,
    dispose: () => m.dispose(),
    predict: (x: Float32Array, n: number, precision: Precision) => m.predict(x, n, { precision }),
    evaluate: (d: Cifar10, batchSize: number, precision: Precision) => m.evaluate(d, { batchSize, precision }),
  };
}

async function cmdEval(argv: string[]): Promise<number> {
  const { values } = parse('eval', argv, { ...DATA, ...MODEL_OPTS, 'batch-size': { type: 'string' } });
  if (values.help) return help('eval');
  const loaded = await loadModel(values, 'eval');
  try {
    const data = await dataArg(values, values.json === true);
    const test = await Cifar10.load(data, { split: 'test' });
    const r = await loaded.evaluate(test, int('batch-size', values['batch-size'] as string | undefined, 500, 1),
      precisionArg(values.precision as string | undefined));
    if (values.json) out(JSON.stringify({ model: loaded.name, ...r }));
    else printEvaluation(r, test.classes, loaded.name);
    return 0;
  } finally {
    loaded.dispose();
  }
}

async function cmdPredict(argv: string[]): Promise<number> {
  const { values, positionals } = parse('predict', argv, { ...MODEL_OPTS, top: { type: 'string' } }, true);
  if (values.help) return help('predict');
  if (positionals.length === 0) throw new UsageError('predict needs at least one image file (PNG or JPEG)');
  for (const f of positionals) if (!fs.existsSync(f)) throw new UsageError(`${f} does not exist`);
  const top = int('top', values.top as string | undefined, 1, 1);
  const loaded = await loadModel(values, 'predict');
  try {
    const pixels = await decodeImages(positionals);
    const logits = await loaded.predict(normalizeImages(pixels, loaded.norm), positionals.length,
      precisionArg(values.precision as string | undefined));
    const k = logits.length / positionals.length;
    const results = positionals.map((file, i) => {
      const row = Array.from(logits.subarray(i * k, (i + 1) * k));
      const mx = Math.max(...row);
      const ex = row.map((x) => Math.exp(x - mx));
      const sum = ex.reduce((a, b) => a + b, 0);
      const ranked = ex.map((e, j) => ({ class: CIFAR10_CLASSES[j] ?? String(j), probability: e / sum })).sort((a, b) => b.probability - a.probability);
      return { file, predictions: ranked.slice(0, top) };
    });
    if (values.json) out(JSON.stringify(results));
    else for (const r of results) out(`${r.file}: ${r.predictions.map((p) => `${p.class} ${(100 * p.probability).toFixed(1)} %`).join(', ')}`);
    return 0;
  } finally {
    loaded.dispose();
  }
}

async function cmdConvert(argv: string[]): Promise<number> {
  const { values, positionals } = parse('convert', argv,
    { to: { type: 'string' }, shortcut: { type: 'string' }, input: { type: 'string' }, normalize: { type: 'string' } }, true);
  if (values.help) return help('convert');
  if (positionals.length !== 2) throw new UsageError('convert needs IN and OUT');
  const [input, output] = positionals;
  if (!fs.existsSync(input)) throw new UsageError(`${input} does not exist`);
  let format: ReturnType<typeof formatOf>;
  try {
    format = formatOf(output, values.to);
  } catch (e) {
    throw new UsageError(values.to === undefined ? (e as Error).message : `--to: ${(e as Error).message}`);
  }
  const shortcut = values.shortcut === undefined ? undefined : shortcutArg(values.shortcut as string);
  if (format !== 'onnx' && (values.input !== undefined || values.normalize !== undefined)) {
    throw new UsageError('--input and --normalize are ONNX options (--to onnx, or OUT ending in .onnx)');
  }
  const onnxInput = values.input as string | undefined;
  if (onnxInput !== undefined && onnxInput !== 'normalized' && onnxInput !== 'pixels') {
    throw new UsageError(`--input must be normalized or pixels, got '${onnxInput}'`);
  }
  const normalization = normalizeArg(values);
  const m = await ResNet.load(input, { device: 'cpu', shortcut });
  try {
    await m.save(output, format === 'onnx' ? { format, input: onnxInput, normalization } : { format });
    const imported = (m.meta.imported as { layout?: string } | undefined)?.layout;
    const what = `ResNet-${m.config.depth} (${m.config.shortcut}, ${m.config.numClasses} classes)`;
    if (values.json) out(JSON.stringify({ input, output, format, from: imported ?? 'resnet-cifar', config: m.config }));
    else out(`${input} (${imported ? `${imported} layout` : 'resnet-cifar'}) -> ${output} (${format}): ${what}`);
    return 0;
  } finally {
    m.dispose();
  }
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** table.md and figure6.svg from whatever runs under `dir` have finished (or progressed). */
export async function writeReport(dir: string, depths: number[], shortcuts: Shortcut[], seeds: number): Promise<void> {
  const rows: string[] = [
    '| network | layers | runs | test error (%) mean ± std | paper | seed article |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const points: CurvePoint[] = [];
  for (const shortcut of shortcuts) {
    for (const depth of depths) {
      const finals: RunFinal[] = [];
      const perIter = new Map<string, number[]>();
      for (let s = 0; s < seeds; s++) {
        const runDir = path.join(dir, 'runs', runName(depth, shortcut, s));
        const f = readFinal(runDir);
        if (f) finals.push(f);
        for (const p of curvePoints(runDir)) {
          const key = `${p.curve === 'train' ? 'train' : 'test'}|${p.iteration}`;
          perIter.set(key, [...(perIter.get(key) ?? []), p.error]);
        }
      }
      const net = shortcut === 'plain' ? 'plain' : shortcut === 'B' ? 'ResNet (B)' : 'ResNet';
      for (const [key, errs] of perIter) {
        const [curve, it] = key.split('|');
        points.push({ iteration: Number(it), error: meanStd(errs).mean, curve, series: `${depth}-layer`, panel: net });
      }
      const ms = finals.length ? meanStd(finals.map((f) => f.testError)) : undefined;
      const paper = shortcut === 'A' ? PAPER_TEST_ERRORS[depth] : undefined;
      const seedArticle = shortcut === 'A' ? SEED_ARTICLE[depth] : undefined;
      rows.push(`| ${net}-${depth} | ${depth} | ${finals.length}/${seeds} | ${ms ? `${ms.mean.toFixed(2)} ± ${ms.std.toFixed(2)}` : '–'} | ` +
        `${paper?.toFixed(2) ?? '–'} | ${seedArticle?.toFixed(2) ?? '–'} |`);
    }
  }
  const any = readFinal(path.join(dir, 'runs', runName(depths[0], shortcuts[0], 0)));
  const lines = [
    '# CIFAR-10 test error, ours beside the paper\'s',
    '',
    ...rows,
    '',
    'Paper: He et al. 2016, Table 6 (best of 5 for 110: 6.43; mean 6.61 ± 0.16). Seed article: its own PyTorch',
    'reproduction (mean of runs). Ours: mean ± sample std over the finished runs listed, each evaluated on the',
    `10,000 test images after training${any ? ` for ${any.iterations} iterations on ${any.device} (libtorch ${any.libtorch})` : ''}.`,
    '',
  ];
  writeAtomic(path.join(dir, 'table.md'), lines.join('\n'));
  const panels = shortcuts.map((s) => (s === 'plain' ? 'plain' : s === 'B' ? 'ResNet (B)' : 'ResNet'));
  if (points.length) {
    await writeCurves(path.join(dir, 'figure6.svg'), points, { panels, title: 'CIFAR-10: training (thin) and test (bold) error', png: true });
  }
}

interface PendingRun { depth: number; shortcut: Shortcut; seed: number; runDir: string; name: string; label: string }

/**
 * reproduce --workers N: each pending run is a `train --json` child process (OMP_NUM_THREADS = cores / N), at most N
 * at a time. Their progress comes back as JSON lines, printed with the run's name; the report is rewritten after
 * each finished run. Ctrl-C reaches every child, which stop with a checkpoint. A failed child lets the others finish,
 * no new one starts, and the error names each failed run with the end of its stderr. Resolves with the number of
 * runs finished.
 */
async function runWorkers(runs: PendingRun[], o: { workers: number; data: string; passOn: string[]; json: boolean;
  stop: ReturnType<typeof stopSignal>; report: () => Promise<void> }): Promise<number> {
  const threads = Math.max(1, Math.floor(os.availableParallelism() / o.workers));
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  for (const k of ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  const children = await cliChildren();
  const failures: string[] = [];
  let finished = 0;
  let next = 0;
  if (!o.json) out(`${runs.length} run(s) over ${o.workers} workers, ${threads} thread(s) each`);
  const one = (r: PendingRun) => new Promise<void>((resolve) => {
    const { name, label } = r;
    const resume = fs.existsSync(path.join(r.runDir, CHECKPOINT_FILE));
    const args = ['train', '--json', '--out', r.runDir, '--depth', String(r.depth), '--shortcut', r.shortcut, '--seed', String(r.seed),
      '--data', o.data, ...o.passOn, ...(resume ? ['--resume'] : [])];
    const child = children.spawn(args, env, ['ignore', 'pipe', 'pipe']);
    if (o.json) out(JSON.stringify({ kind: 'start', run: name, resume, pid: child.pid }));
    else out(`${label}: ${resume ? 'resuming' : 'training'} in worker ${child.pid} -> ${r.runDir}`);
    let err = '';
    let buf = '';
    let shown = 0;
    child.stderr!.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: Record<string, unknown>;
        try { e = JSON.parse(line); } catch { continue; }
        if (o.json) { out(JSON.stringify({ run: name, ...e })); continue; }
        if (e.kind === 'eval') out(`${label} eval at ${e.iteration}: error ${(e.error as number).toFixed(2)} %`);
        else if (e.kind === 'train' && (e.iteration as number) >= shown + (e.iterations as number) / 20) {
          shown = e.iteration as number;
          out(`${label} it ${e.iteration}/${e.iterations} loss ${(e.loss as number).toFixed(3)} train err ${(e.trainError as number).toFixed(1)} %`);
        }
      }
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        finished++;
        const f = readFinal(r.runDir);
        if (o.json) out(JSON.stringify({ kind: 'final', run: name, testError: f?.testError }));
        else out(`${label}: test error ${f?.testError.toFixed(2)} %`);
      } else if (code === 130 && o.stop.stopped()) {
        if (!o.json) out(`${label}: stopped with a checkpoint`);
      } else {
        const why = err.trim().split('\n').filter((l) => l.trim()).slice(-3).map((l) => l.replace(/^resnet-cifar: /, '')).join(' / ') || 'no message';
        failures.push(`${name} (exit ${code ?? signal}): ${why}`);
        if (o.json) out(JSON.stringify({ kind: 'failed', run: name, code, signal, error: why }));
        else process.stderr.write(`${label}: failed (exit ${code ?? signal}): ${why}\n`);
      }
      o.report().then(() => resolve(), (e) => { failures.push(`report: ${(e as Error).message}`); resolve(); });
    });
  });
  const lane = async () => {
    while (next < runs.length && !o.stop.stopped() && failures.length === 0) await one(runs[next++]);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.workers, runs.length) }, lane));
  } finally {
    children.dispose();
  }
  if (failures.length) throw new RunError(`${failures.length} run(s) failed, the others ${o.stop.stopped() ? 'stopped' : 'finished or were not started'}: ${failures.join('; ')}`);
  return finished;
}

async function cmdReproduce(argv: string[]): Promise<number> {
  const { values } = parse('reproduce', argv, {
    ...DATA, depths: { type: 'string' }, seeds: { type: 'string' }, plain: { type: 'boolean' },
    iterations: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, 'batch-size': { type: 'string' },
    lr: { type: 'string' }, 'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' },
    precision: { type: 'string' }, workers: { type: 'string' }, 'no-cuda-graphs': { type: 'boolean' },
  });
  if (values.help) return help('reproduce');
  if (!values.out) throw new UsageError('reproduce needs --out DIR');
  const json = values.json === true;
  const depths = list('depths', values.depths as string | undefined, [20, 32, 44, 56]).map((d) => depthArg(String(d), 20));
  const seeds = int('seeds', values.seeds as string | undefined, 5, 1);
  const shortcuts: Shortcut[] = values.plain ? ['plain', 'A'] : ['A'];
  const dir = path.resolve(values.out as string);
  const workers = int('workers', values.workers as string | undefined, 1, 1);
  const data = await dataArg(values, json);
  const stop = stopSignal();
  let trained = 0;
  let skipped = 0;
  try {
    // Every (shortcut, depth, seed) without final.json; each one's options are checked before any run starts.
    const runs: PendingRun[] = [];
    for (const shortcut of shortcuts) {
      for (const depth of depths) {
        for (let seed = 0; seed < seeds; seed++) {
          const name = runName(depth, shortcut, seed);
          const label = `${shortcut === 'plain' ? 'plain' : 'ResNet'}-${depth} seed ${seed}`;
          const runDir = path.join(dir, 'runs', name);
          if (readFinal(runDir)) {
            skipped++;
            if (json) out(JSON.stringify({ kind: 'skipped', run: name }));
            else out(`${label}: finished earlier, skipped`);
            continue;
          }
          trainConfig(values, depth, shortcut, seed);
          runs.push({ depth, shortcut, seed, runDir, name, label });
        }
      }
    }
    const report = () => writeReport(dir, depths, shortcuts, seeds);
    if (workers > 1) {
      const passOn = ['iterations', 'device', 'batch-size', 'lr', 'eval-every', 'checkpoint-every', 'precision']
        .flatMap((k) => (values[k] === undefined ? [] : [`--${k}`, values[k] as string]))
        .concat(values['no-cuda-graphs'] ? ['--no-cuda-graphs'] : []);
      trained = await runWorkers(runs, { workers, data, passOn, json, stop, report });
    } else {
      for (const { depth, shortcut, seed, runDir, name, label } of runs) {
        if (stop.stopped()) break;
        const config = trainConfig(values, depth, shortcut, seed);
        const resume = fs.existsSync(path.join(runDir, CHECKPOINT_FILE));
        if (!json) out(`${label}: ${resume ? 'resuming' : 'training'} (${config.iterations} iterations) -> ${runDir}`);
        const p = progressPrinter(json, label);
        const r = await trainRun({ data, out: runDir, config, resume, signal: stop.signal, onProgress: p.onProgress, reportEvery: json ? 50 : 10 });
        p.end();
        if (r.final) {
          trained++;
          if (json) out(JSON.stringify({ kind: 'final', run: name, testError: r.final.testError }));
          else out(`${label}: test error ${r.final.testError.toFixed(2)} %`);
        }
        await report();
      }
    }
    await report();
    if (json) out(JSON.stringify({ kind: 'done', trained, skipped, table: path.join(dir, 'table.md'), figure: path.join(dir, 'figure6.svg') }));
    else {
      out(`${trained} run(s) trained, ${skipped} found finished; ${path.join(dir, 'table.md')}, ${path.join(dir, 'figure6.svg')}`);
      out(fs.readFileSync(path.join(dir, 'table.md'), 'utf8'));
    }
    return stop.stopped() ? 130 : 0;
  } finally {
    stop.dispose();
  }
}

function help(cmd: string): number {
  out(HELP[cmd]);
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  info: cmdInfo, train: cmdTrain, eval: cmdEval, predict: cmdPredict, convert: cmdConvert, reproduce: cmdReproduce,
};

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return help('main');
  if (cmd === '--version') {
    out(require('../package.json').version);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  try {
    if (!run) throw new UsageError(`unknown command '${cmd}' (expected one of: ${Object.keys(COMMANDS).join(', ')})`);
    return await run(rest);
  } catch (e) {
    const err = e as Error;
    const usage = err instanceof UsageError;
    process.stderr.write(`resnet-cifar: ${err.message}${usage ? `\nRun 'resnet-cifar ${run ? cmd + ' ' : ''}--help' for usage.` : ''}\n`);
    if (process.env.RESNET_CIFAR_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    return usage || err instanceof RunError ? 2 : 1;
  }
}

// `resnet-cifar eval … | head`: a closed pipe ends the output quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
