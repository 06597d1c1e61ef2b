// A training run folder: config.json, metrics.jsonl, the checkpoint (CHECKPOINT_FILE), curves.svg, final.json and
// TensorBoard's events.out.tfevents.* files. metrics.jsonl is the run's record over all its starts: a 'start' line
// for each (where and when it ran, from which iteration), then its 'train' reports and 'eval' results. The one writer of run folders: the CLI's `train` and `reproduce` and
// the GPU driver (scripts/device/train.js) use it; a finished run has final.json, an interrupted one a checkpoint
// to resume from.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTrainTest } from '../data/sources';
import type { ImageDataset } from '../data/image-dataset';
import { ResNet, type DeviceSpec, type Evaluation } from '../model/resnet';
import { Trainer, type FitProgress, type History } from '../train/trainer';
import { writeAtomic } from '../base/files';
import { writeCurves } from '../io/plots';
import { info, machineName } from '../base/info';
import { CHECKPOINT_FILE } from '../io/checkpoint';
import { networkLabel } from '../base/names';
import { REPORT_EVERY, runEvalEvery } from '../base/recipe';
import { normalizationFor } from '../train/fine-tune';
import { torchrunWorker } from '../base/torchrun';
import { runTrainerOptions, type RunConfig } from './config';
import { prepareFolder, RunError } from './folder';
import { curvePoints, historySeconds, type RunFinal, type RunStart } from './records';

async function redraw(dir: string, title: string): Promise<void> {
  const pts = curvePoints(dir);
  if (pts.length) await writeCurves(path.join(dir, 'curves.svg'), pts, { title });
}

/**
 * The run's network: on CUDA, each rank of a data-parallel run takes the GPU of its LOCAL_RANK (as torchrun's
 * workers do with torch.cuda.set_device), so that NCCL has one device per rank.
 */
async function runModel(c: RunConfig, data: ImageDataset, resumeFrom: string | undefined): Promise<ResNet> {
  const local = torchrunWorker()?.localRank;
  const gpus = info().cuda.available;
  const device: DeviceSpec = c.worldSize > 1 && local !== undefined && gpus && (c.device === 'cuda' || c.device === 'auto')
    ? `cuda:${local}` as DeviceSpec : c.device;
  if (c.from === undefined) {
    return new ResNet({ depth: c.depth, shortcut: c.shortcut, device, seed: c.seed, numClasses: data.classes.length,
      inChannels: data.shape.channels });
  }
  // Resuming: the run's own checkpoint is the network (the file it started from may be gone).
  const m = resumeFrom ? await ResNet.load(resumeFrom, { device }) : await loadFrom(c.from, device);
  if (m.config.depth !== c.depth || m.config.shortcut !== c.shortcut) {
    m.dispose();
    throw new RunError(`${c.from} is ${networkLabel(m.config.depth, m.config.shortcut)}, not the run's ${networkLabel(c.depth, c.shortcut)}`);
  }
  // A new head for another number of classes (seeded); a colour network takes grey images with their channel repeated.
  if (m.config.numClasses !== data.classes.length) m.resetClassifier(data.classes.length, { seed: c.seed });
  return m;
}

/** A run's starting network: a checkpoint or weights file when `from` is one, else a shipped network's name. */
export async function loadFrom(from: string, device?: DeviceSpec): Promise<ResNet> {
  return fs.existsSync(from) && fs.statSync(from).isFile() ? ResNet.load(from, { device }) : ResNet.pretrained(from, { device });
}

export interface RunOptions {
  /** The data: CIFAR-10 (folder or .tar.gz) or an MNIST-format folder (sources.ts). */
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

  const { train, validation, test } = await loadTrainTest(o.data, c.holdout, { size: c.imageSize, grayscale: c.grayscale });
  const evalSet = validation ?? test;
  const split = validation ? 'validation' : 'test';
  const model = await runModel(c, train, resumeFrom > 0 && o.resume ? ckpt : undefined);
  const metrics = keeper ? fs.openSync(metricsFile, 'a') : undefined;
  const log = (line: object) => { if (metrics !== undefined) fs.writeSync(metrics, JSON.stringify(line) + '\n'); };
  const draw = keeper && o.curves !== false;
  let drawing: Promise<void> = Promise.resolve();
  let lastEval: Evaluation | undefined;
  try {
    const start: RunStart = { kind: 'start', iteration: resumeFrom, started: new Date().toISOString(), machine: machineName(),
      device: model.device, libtorch: info().libtorch.version, precision: c.precision };
    log(start);
    const trainer = new Trainer(model, runTrainerOptions(c, c.normalization === 'network' ? normalizationFor(model, train) : undefined));
    const { iterations } = trainer.schedule(train);
    const history = await trainer.fit(train, {
      eval: evalSet,
      evalEvery: c.evalEvery ?? runEvalEvery(iterations),
      reportEvery: o.reportEvery ?? REPORT_EVERY,
      signal: o.signal,
      checkpoint: { dir: out, every: c.checkpointEvery, resume: o.resume },
      logDir: keeper ? out : undefined, // TensorBoard: `tensorboard --logdir runs` shows every run folder as a run
      meta: { run: { depth: c.depth, shortcut: c.shortcut, seed: c.seed, iterations, ...(c.from === undefined ? {} : { from: c.from }) } },
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
    const r = validation ? await model.evaluate(test, { precision: c.precision }) : lastEval;
    if (!r) throw new RunError('internal: no final evaluation');
    const final: RunFinal = {
      depth: c.depth,
      shortcut: c.shortcut,
      seed: c.seed,
      iterations: history.iterations,
      testError: r.error,
      testLoss: r.loss,
      validationError: validation ? lastEval?.error : undefined,
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

