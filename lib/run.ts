// A training run folder: config.json, metrics.jsonl, the checkpoint (CHECKPOINT_FILE), curves.svg, final.json and
// TensorBoard's events.out.tfevents.* files. metrics.jsonl is the run's record over all its starts: a 'start' line
// for each (where and when it ran, from which iteration), then its 'train' reports and 'eval' results. The one writer of run folders: the CLI's `train` and `reproduce` and
// the GPU driver (scripts/device/train.js) use it; a finished run has final.json, an interrupted one a checkpoint
// to resume from.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10 } from './cifar10';
import { ResNet, type DeviceSpec, type Evaluation, type Shortcut } from './resnet';
import type { Precision } from './precision';
import { Trainer, type FitProgress, type History, type TrainerOptions } from './trainer';
import { writeAtomic } from './files';
import { writeCurves, type CurvePoint } from './plots';
import { info, machineName } from './info';
import { CHECKPOINT_FILE, readCheckpointMeta } from './checkpoint';
import { networkLabel } from './names';
import { REPORT_EVERY } from './recipe';
import { torchrunWorker } from './torchrun';

/**
 * The Trainer's options a run sets, under TrainerOptions' own names and types (the CLI's flags land here, and
 * config.json holds them flat beside the run's own settings).
 */
export type RunTrainerOptions = Required<Pick<TrainerOptions, 'iterations' | 'milestones' | 'lr' | 'batchSize' | 'seed' | 'precision'>> &
  Pick<TrainerOptions, 'warmup' | 'cudaGraphs'> & {
    /** A kind: the statistics are computed from the training set. */
    normalization: 'pixel' | 'channel';
  };

export interface RunConfig extends RunTrainerOptions {
  depth: number;
  shortcut: Shortcut;
  /** Training images held out as the validation set (0: evaluate on the test set). */
  holdout: number;
  device: DeviceSpec;
  evalEvery: number;
  checkpointEvery: number;
  /** Data-parallel ranks (torchrun's environment: RANK, WORLD_SIZE, …); batchSize is per rank. */
  worldSize: number;
  /** Data-parallel: BatchNorm statistics over the global batch (DistributedOptions.syncBatchNorm). */
  syncBatchNorm?: boolean;
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
  /** The fit's wall time (this start; evaluations and checkpoints included). */
  seconds: number;
  /**
   * Training alone, over the whole run (every start, as its history has them): each report window's iterations at
   * its images/s (evaluations and checkpoints excluded).
   */
  trainingSeconds: number;
  /** Where this start began (0, or the resumed checkpoint's iteration). */
  startIteration: number;
  checkpoint: string;
  device: string;
  libtorch: string;
  precision: Precision;
  /** What to know about the run (e.g. resumed at another precision). */
  notes?: string[];
}

/** One start of a run (the first, or a --resume), as its line in metrics.jsonl. */
export interface RunStart {
  kind: 'start';
  /** The iteration it started from (0, or the checkpoint's). */
  iteration: number;
  /** ISO time. */
  started: string;
  /** machineName(): the CPU, its cores and its bf16 path. */
  machine: string;
  device: string;
  libtorch: string;
  precision: Precision;
}

/** A run's time over all its starts, from metrics.jsonl (runTime). */
export interface RunTime {
  /** How many starts trained it (the first and each --resume whose work was kept). */
  starts: number;
  /** Wall time of the starts, each up to its last report (evaluations and checkpoints included). */
  seconds: number;
  /** Training alone: each report window's iterations at its images/s. */
  trainingSeconds: number;
  /** The distinct machines of its starts (none for starts logged before start lines were written). */
  machines: string[];
}

/** The settings that must match for --resume to continue a run exactly. */
const RESUME_KEYS: (keyof RunConfig)[] = ['depth', 'shortcut', 'batchSize', 'seed', 'holdout', 'normalization', 'worldSize'];

export class RunError extends Error {}

const PACKAGE_VERSION = (require('../package.json') as { version: string }).version;

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

/**
 * A run's time over all its starts. A start is its 'start' line, or (in folders from before those lines) a report
 * whose elapsed time is below the one before it.
 */
export function runTime(dir: string, globalBatch: number): RunTime {
  let starts = 0;
  let seconds = 0;
  let startSeconds = 0;
  let lastElapsed = -1;
  const windows: WindowPoint[] = [];
  const machines = new Set<string>();
  const open = () => {
    seconds += startSeconds;
    startSeconds = 0;
    lastElapsed = -1;
    starts++;
  };
  for (const m of readMetrics(dir)) {
    if (m.kind === 'start') {
      open();
      machines.add(String(m.machine));
      windows.push({ iteration: Number(m.iteration), imagesPerSecond: 0 });
    } else if (m.kind === 'train') {
      const elapsed = Number(m.elapsed);
      if (starts === 0 || elapsed < lastElapsed) open();
      windows.push({ iteration: Number(m.iteration), imagesPerSecond: Number(m.imagesPerSecond) });
      startSeconds = lastElapsed = elapsed;
    }
  }
  seconds += startSeconds;
  return { starts, seconds, trainingSeconds: windowSeconds(windows, globalBatch), machines: [...machines] };
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

/** The TrainerOptions of a run: its trainer fields as they are, and data parallelism from torchrun's environment. */
export function runTrainerOptions(c: RunConfig): TrainerOptions {
  return {
    iterations: c.iterations, milestones: c.milestones, lr: c.lr, batchSize: c.batchSize, seed: c.seed,
    normalization: c.normalization, warmup: c.warmup, precision: c.precision, cudaGraphs: c.cudaGraphs,
    distributed: c.worldSize > 1 ? { syncBatchNorm: c.syncBatchNorm === true } : undefined,
  };
}

/**
 * The run's network: on CUDA, each rank of a data-parallel run takes the GPU of its LOCAL_RANK (as torchrun's
 * workers do with torch.cuda.set_device), so that NCCL has one device per rank.
 */
function runModel(c: RunConfig): ResNet {
  const local = torchrunWorker()?.localRank;
  const gpus = info().cuda.available;
  const device: DeviceSpec = c.worldSize > 1 && local !== undefined && gpus && (c.device === 'cuda' || c.device === 'auto')
    ? `cuda:${local}` as DeviceSpec : c.device;
  return new ResNet({ depth: c.depth, shortcut: c.shortcut, device, seed: c.seed });
}

export interface RunOptions {
  /** CIFAR-10 source (folder or .tar.gz). */
  data: string;
  out: string;
  config: RunConfig;
  resume: boolean;
  signal?: AbortSignal;
  onProgress?: (e: FitProgress) => void;
  /** Report every this many iterations (default REPORT_EVERY). */
  reportEvery?: number;
  /** Redraw curves.svg at each evaluation (default true; the GPU machine has no chart packages). */
  curves?: boolean;
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
  const rank = c.worldSize > 1 ? torchrunWorker()?.rank ?? 0 : 0;
  const keeper = rank === 0;
  const ckpt = path.join(out, CHECKPOINT_FILE);
  const metricsFile = path.join(out, 'metrics.jsonl');
  const title = `${networkLabel(c.depth, c.shortcut)}, seed ${c.seed}`;
  const resumeFrom = keeper ? await prepareFolder(o) : 0;

  const train = await Cifar10.load(o.data, { split: 'train', holdout: c.holdout || undefined });
  const test = await Cifar10.load(o.data, { split: 'test' });
  const evalSet = train.validation ?? test;
  const split = train.validation ? 'validation' : 'test';
  const model = runModel(c);
  const metrics = keeper ? fs.openSync(metricsFile, 'a') : undefined;
  const log = (line: object) => { if (metrics !== undefined) fs.writeSync(metrics, JSON.stringify(line) + '\n'); };
  const draw = keeper && o.curves !== false;
  let drawing: Promise<void> = Promise.resolve();
  let lastEval: Evaluation | undefined;
  try {
    const start: RunStart = { kind: 'start', iteration: resumeFrom, started: new Date().toISOString(), machine: machineName(),
      device: model.device, libtorch: info().libtorch.version, precision: c.precision };
    log(start);
    const trainer = new Trainer(model, runTrainerOptions(c));
    const history = await trainer.fit(train, {
      eval: evalSet,
      evalEvery: c.evalEvery,
      reportEvery: o.reportEvery ?? REPORT_EVERY,
      signal: o.signal,
      checkpoint: { dir: out, every: c.checkpointEvery, resume: o.resume },
      logDir: keeper ? out : undefined, // TensorBoard: `tensorboard --logdir runs` shows every run folder as a run
      meta: { run: { depth: c.depth, shortcut: c.shortcut, seed: c.seed, iterations: c.iterations } },
      onProgress: (e) => {
        if (e.kind === 'train') {
          const { kind, iteration, epoch, lr, loss, trainError, imagesPerSecond, elapsed } = e;
          log({ kind, iteration, epoch, lr, loss, trainError, imagesPerSecond, elapsed });
        } else if (e.kind === 'eval') {
          lastEval = e;
          log({ kind: 'eval', split, iteration: e.iteration, error: e.error, loss: e.loss });
          if (draw) drawing = drawing.then(() => redraw(out, title)).catch(() => undefined); // redrawn as it goes
        }
        o.onProgress?.(e);
      },
    });
    await drawing;
    if (draw) await redraw(out, title);
    if (!keeper || history.stopped !== 'completed') return { history };
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
      trainingSeconds: historySeconds(history, c.batchSize * c.worldSize),
      startIteration: history.startIteration,
      checkpoint: ckpt,
      device: model.device,
      libtorch: info().libtorch.version,
      precision: c.precision,
      notes: history.notes.length ? history.notes : undefined,
    };
    writeAtomic(path.join(out, 'final.json'), JSON.stringify(final, null, 2) + '\n');
    return { final, history };
  } finally {
    if (metrics !== undefined) fs.closeSync(metrics);
    model.dispose();
  }
}

/**
 * Makes `out` ready for this start: refuses another run (without --resume) and a --resume with settings that cannot
 * continue it exactly; keeps only the metrics the checkpoint knows; writes config.json; removes an old final.json.
 * Returns the iteration this start resumes from (0 for a new run).
 */
async function prepareFolder(o: RunOptions): Promise<number> {
  const { out, config: c } = o;
  fs.mkdirSync(out, { recursive: true });
  const ckpt = path.join(out, CHECKPOINT_FILE);
  const cfgFile = path.join(out, 'config.json');
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
  // metrics.jsonl keeps only what the checkpoint knows (lines logged after it were lost with the process, and a
  // start at the checkpoint's iteration kept none of its work).
  const kept = readMetrics(out).filter((m) => Number(m.iteration) < resumeFrom || (Number(m.iteration) === resumeFrom && m.kind !== 'start'));
  writeAtomic(path.join(out, 'metrics.jsonl'), kept.map((m) => JSON.stringify(m) + '\n').join(''));
  writeAtomic(cfgFile, JSON.stringify({ ...c, data: o.data, version: PACKAGE_VERSION,
    libtorch: info().libtorch.version, started: new Date().toISOString(), resumedFrom: resumeFrom || undefined }, null, 2) + '\n');
  fs.rmSync(path.join(out, 'final.json'), { force: true });
  return resumeFrom;
}

interface WindowPoint {
  iteration: number;
  imagesPerSecond: number;
}

/**
 * Seconds spent training: each report window's images at its images/s, the window running from the point before
 * (or 0). A point without images/s marks where a start began: the next window runs from there.
 */
function windowSeconds(points: WindowPoint[], globalBatch: number): number {
  let seconds = 0;
  points.forEach((p, i) => {
    const start = i === 0 ? 0 : points[i - 1].iteration;
    if (p.iteration > start && p.imagesPerSecond > 0) seconds += ((p.iteration - start) * globalBatch) / p.imagesPerSecond;
  });
  return seconds;
}

/** windowSeconds of a fit's history: every start's reports (a resumed fit restores them), this start's beginning marked. */
function historySeconds(h: History, globalBatch: number): number {
  const s = h.startIteration;
  const before = h.train.filter((p) => p.iteration <= s);
  return windowSeconds([...before, { iteration: s, imagesPerSecond: 0 }, ...h.train.slice(before.length)], globalBatch);
}
