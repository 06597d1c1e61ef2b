// A training run folder: config.json, metrics.jsonl, the checkpoint (CHECKPOINT_FILE), curves.svg, final.json and
// TensorBoard's events.out.tfevents.* files. Used by the CLI's `train` and `reproduce`; a finished run has
// final.json, an interrupted one a checkpoint to resume from.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10 } from './cifar10';
import { ResNet, type DeviceSpec, type Evaluation, type Shortcut } from './resnet';
import type { Precision } from './precision';
import { Trainer, type FitProgress, type History } from './trainer';
import { writeAtomic } from './files';
import { writeCurves, type CurvePoint } from './plots';
import { info } from './info';
import { CHECKPOINT_FILE, readCheckpointMeta } from './checkpoint';

export interface RunConfig {
  depth: number;
  shortcut: Shortcut;
  iterations: number;
  milestones: number[];
  lr: number;
  batchSize: number;
  seed: number;
  holdout: number;
  device: DeviceSpec;
  evalEvery: number;
  checkpointEvery: number;
  normalization: 'pixel' | 'channel';
  warmup?: { lr: number; iterations?: number; untilError?: number };
  /** Compute precision; a resumed run may change it (its checkpoint is float32 either way). */
  precision: Precision;
  /** Data-parallel ranks (torchrun's environment: RANK, WORLD_SIZE, …); batchSize is per rank. */
  worldSize: number;
  /** Data-parallel: BatchNorm statistics over the global batch (DistributedOptions.syncBatchNorm). */
  syncBatchNorm?: boolean;
  /** On CUDA: replay the step as a CUDA graph (TrainerOptions.cudaGraphs; default true). */
  cudaGraphs?: boolean;
}

export interface RunFinal {
  depth: number;
  shortcut: Shortcut;
  seed: number;
  iterations: number;
  testError: number;
  testLoss: number;
  validationError?: number;
  perClass: Evaluation['perClass'];
  seconds: number;
  checkpoint: string;
  device: string;
  libtorch: string;
  precision: Precision;
  /** What to know about the run (e.g. resumed at another precision). */
  notes?: string[];
}

/** The settings that must match for --resume to continue a run exactly. */
const RESUME_KEYS: (keyof RunConfig)[] = ['depth', 'shortcut', 'batchSize', 'seed', 'holdout', 'normalization', 'worldSize'];

export class RunError extends Error {}

export function readFinal(dir: string): RunFinal | undefined {
  const f = path.join(dir, 'final.json');
  if (!fs.existsSync(f)) return undefined;
  return JSON.parse(fs.readFileSync(f, 'utf8')) as RunFinal;
}

export function readMetrics(dir: string): Record<string, number | string>[] {
  const f = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return []; // a line cut short by a kill
    }
  });
}

/** Train error (thin) and test/validation error (bold) of one run, for curves.svg and figure6.svg. */
export function curvePoints(dir: string): CurvePoint[] {
  return readMetrics(dir).flatMap((m): CurvePoint[] => {
    if (m.kind === 'train') return [{ iteration: Number(m.iteration), error: Number(m.trainError), curve: 'train' }];
    if (m.kind === 'eval') return [{ iteration: Number(m.iteration), error: Number(m.error), curve: String(m.split) }];
    return [];
  });
}

async function redraw(dir: string, title: string): Promise<void> {
  const pts = curvePoints(dir);
  if (pts.length) await writeCurves(path.join(dir, 'curves.svg'), pts, { title });
}

function trainerOptions(c: RunConfig) {
  return {
    iterations: c.iterations, milestones: c.milestones, lr: c.lr, batchSize: c.batchSize, seed: c.seed,
    normalization: c.normalization, warmup: c.warmup, precision: c.precision, cudaGraphs: c.cudaGraphs ?? true,
    distributed: c.worldSize > 1 ? { syncBatchNorm: c.syncBatchNorm === true } : undefined,
  };
}

/**
 * The run's network: on CUDA, each rank of a data-parallel run takes the GPU of its LOCAL_RANK (as torchrun's
 * workers do with torch.cuda.set_device), so that NCCL has one device per rank.
 */
function runModel(c: RunConfig): ResNet {
  const local = process.env.LOCAL_RANK;
  const gpus = info().cuda.available;
  const device: DeviceSpec = c.worldSize > 1 && local !== undefined && gpus && (c.device === 'cuda' || c.device === 'auto')
    ? `cuda:${Number(local)}` as DeviceSpec : c.device;
  return new ResNet({ depth: c.depth, shortcut: c.shortcut, device, seed: c.seed });
}

/** A rank other than 0 of a data-parallel run: it trains alongside rank 0 and writes nothing. */
async function followerRun(o: RunOptions): Promise<RunResult> {
  const c = o.config;
  const train = await Cifar10.load(o.data, { split: 'train', holdout: c.holdout || undefined });
  const evalSet = train.validation ?? await Cifar10.load(o.data, { split: 'test' });
  const model = runModel(c);
  try {
    const history = await new Trainer(model, trainerOptions(c)).fit(train, {
      eval: evalSet, evalEvery: c.evalEvery, reportEvery: o.reportEvery ?? 10, signal: o.signal,
      checkpoint: { dir: o.out, every: c.checkpointEvery, resume: o.resume }, onProgress: o.onProgress,
    });
    return { history };
  } finally {
    model.dispose();
  }
}

export interface RunOptions {
  /** CIFAR-10 source (folder or .tar.gz). */
  data: string;
  out: string;
  config: RunConfig;
  resume: boolean;
  signal?: AbortSignal;
  onProgress?: (e: FitProgress) => void;
  /** Report every this many iterations (default 10). */
  reportEvery?: number;
}

export interface RunResult {
  final?: RunFinal;
  history: History;
}

/**
 * Trains one run into `out`. Refuses to overwrite another run (without --resume), and a --resume with
 * settings that cannot continue it exactly. Returns without final.json when aborted.
 */
export async function trainRun(o: RunOptions): Promise<RunResult> {
  const { out, config: c } = o;
  // Data-parallel: every rank trains, rank 0 alone keeps the folder (config, metrics, checkpoint, final result).
  const distributed = c.worldSize > 1;
  if (distributed && process.env.RANK !== undefined && Number(process.env.RANK) !== 0) return followerRun(o);
  fs.mkdirSync(out, { recursive: true });
  const ckpt = path.join(out, CHECKPOINT_FILE);
  const cfgFile = path.join(out, 'config.json');
  const title = `ResNet-${c.depth}${c.shortcut === 'plain' ? ' plain' : c.shortcut === 'B' ? ' (B)' : ''}, seed ${c.seed}`;
  let resumeFrom = 0;
  if (fs.existsSync(ckpt) || fs.existsSync(path.join(out, 'final.json'))) {
    if (!o.resume) {
      throw new RunError(`${out} already holds a run (${CHECKPOINT_FILE}); pass --resume to continue it or choose another --out`);
    }
    const old = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Partial<RunConfig> : {};
    for (const k of RESUME_KEYS) {
      if (old[k] !== undefined && JSON.stringify(old[k]) !== JSON.stringify(c[k])) {
        throw new RunError(`Cannot resume ${out}: it was started with ${k} ${JSON.stringify(old[k])}, not ${JSON.stringify(c[k])}`);
      }
    }
    if (fs.existsSync(ckpt)) resumeFrom = (await readCheckpointMeta(ckpt)).trainer?.iteration ?? 0;
  }
  // metrics.jsonl keeps only what the checkpoint knows (lines logged after it were lost with the process).
  const metricsFile = path.join(out, 'metrics.jsonl');
  const kept = readMetrics(out).filter((m) => Number(m.iteration) <= resumeFrom);
  writeAtomic(metricsFile, kept.map((m) => JSON.stringify(m) + '\n').join(''));
  writeAtomic(cfgFile, JSON.stringify({ ...c, data: o.data, version: require('../package.json').version,
    libtorch: info().libtorch.version, started: new Date().toISOString(), resumedFrom: resumeFrom || undefined }, null, 2) + '\n');
  fs.rmSync(path.join(out, 'final.json'), { force: true });

  const train = await Cifar10.load(o.data, { split: 'train', holdout: c.holdout || undefined });
  const test = await Cifar10.load(o.data, { split: 'test' });
  const evalSet = train.validation ?? test;
  const split = train.validation ? 'validation' : 'test';
  const model = runModel(c);
  const metrics = fs.openSync(metricsFile, 'a');
  let drawing: Promise<void> = Promise.resolve();
  let lastEval: Evaluation | undefined;
  try {
    const trainer = new Trainer(model, trainerOptions(c));
    const history = await trainer.fit(train, {
      eval: evalSet,
      evalEvery: c.evalEvery,
      reportEvery: o.reportEvery ?? 10,
      signal: o.signal,
      checkpoint: { dir: out, every: c.checkpointEvery, resume: o.resume },
      logDir: out, // TensorBoard: `tensorboard --logdir runs` shows every run folder as a run
      meta: { run: { depth: c.depth, shortcut: c.shortcut, seed: c.seed, iterations: c.iterations } },
      onProgress: (e) => {
        if (e.kind === 'train') {
          const { kind, iteration, epoch, lr, loss, trainError, imagesPerSecond, elapsed } = e;
          fs.writeSync(metrics, JSON.stringify({ kind, iteration, epoch, lr, loss, trainError, imagesPerSecond, elapsed }) + '\n');
        } else if (e.kind === 'eval') {
          lastEval = e;
          fs.writeSync(metrics, JSON.stringify({ kind: 'eval', split, iteration: e.iteration, error: e.error, loss: e.loss }) + '\n');
          drawing = drawing.then(() => redraw(out, title)).catch(() => undefined); // redrawn as it goes
        }
        o.onProgress?.(e);
      },
    });
    await drawing;
    await redraw(out, title);
    if (history.stopped !== 'completed') return { history };
    const r = train.validation ? await model.evaluate(test, { precision: c.precision }) : lastEval;
    if (!r) throw new RunError('internal: no final evaluation');
    const final: RunFinal = {
      depth: c.depth,
      shortcut: c.shortcut,
      seed: c.seed,
      iterations: history.iterations,
      testError: r.error,
      testLoss: r.loss,
      validationError: train.validation ? lastEval?.error : undefined,
      perClass: r.perClass,
      seconds: history.seconds,
      checkpoint: ckpt,
      device: model.device,
      libtorch: info().libtorch.version,
      precision: c.precision,
      notes: history.notes.length ? history.notes : undefined,
    };
    writeAtomic(path.join(out, 'final.json'), JSON.stringify(final, null, 2) + '\n');
    return { final, history };
  } finally {
    fs.closeSync(metrics);
    model.dispose();
  }
}
