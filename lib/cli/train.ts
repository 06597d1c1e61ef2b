// resnet-cifar train: one network into a run folder (or, with --nproc-per-node, this machine's data-parallel workers).
import * as path from 'node:path';
import { networkLabel, runName } from '../base/names';
import { REPORT_EVERY } from '../base/recipe';
import { loadFrom, trainRun } from '../run';
import * as fs from 'node:fs';
import { CHECKPOINT_FILE } from '../io/checkpoint';
import { ResNet, type Shortcut } from '../model/resnet';
import { torchrunWorker } from '../base/torchrun';
import { UsageError, dataArg, depthArg, int, parse, shortcutArg, str } from './args';
import { help } from './help';
import { LAUNCH_OPTS, launch } from './launch';
import { out, progressPrinter } from './output';
import { stopSignal } from './signals';
import { TRAIN_OPTS, trainConfig } from './train-config';

/** --json prints a progress line every this many iterations (a TTY's bar or log lines: every REPORT_EVERY). */
export const JSON_REPORT_EVERY = 50;

/**
 * The depth and shortcut of the network --from names (a checkpoint or weights file, or a shipped network's name), or,
 * resuming, of the run's own checkpoint (the network it became; the file it started from may be gone).
 */
async function fromConfig(from: string, resuming: string | undefined): Promise<{ depth: number; shortcut: Shortcut }> {
  let m: ResNet;
  try {
    m = resuming && fs.existsSync(resuming) ? await ResNet.load(resuming, { device: 'cpu' }) : await loadFrom(from, 'cpu');
  } catch (e) {
    throw new UsageError(`--from ${from}: ${(e as Error).message}`);
  }
  const { depth, shortcut } = m.config;
  m.dispose();
  return { depth, shortcut };
}

export async function cmdTrain(argv: string[]): Promise<number> {
  const { values } = parse('train', argv, TRAIN_OPTS);
  if (values.help) return help('train');
  if (LAUNCH_OPTS.some((k) => values[k] !== undefined)) {
    if (values.freeze !== undefined) throw new UsageError('--freeze trains one process: it cannot be used with --nproc-per-node or --nnodes');
    return launch(argv, values);
  }
  const json = values.json === true;
  const worker = torchrunWorker();
  const follower = worker !== undefined && worker.rank !== 0;
  // From a trained network: its depth and shortcut unless given (the run checks that they agree).
  const resuming = values.resume === true && str(values, 'out') !== undefined ? path.join(path.resolve(str(values, 'out')!), CHECKPOINT_FILE) : undefined;
  const from = str(values, 'from') === undefined ? undefined : await fromConfig(str(values, 'from')!, resuming);
  const depth = depthArg(str(values, 'depth'), from?.depth ?? 20);
  const shortcut = values.shortcut === undefined && from ? from.shortcut : shortcutArg(str(values, 'shortcut'));
  if (from && (depth !== from.depth || shortcut !== from.shortcut)) {
    throw new UsageError(`--from ${str(values, 'from')} is ${networkLabel(from.depth, from.shortcut)}: leave out --depth and --shortcut, or give its own`);
  }
  const seed = int('seed', str(values, 'seed'), 0);
  const config = trainConfig(values, depth, shortcut, seed);
  if (config.freeze !== undefined && config.worldSize > 1) {
    throw new UsageError('--freeze trains one process: it cannot be used in a data-parallel run');
  }
  if (config.syncBatchNorm && config.worldSize < 2) {
    throw new UsageError('--sync-bn synchronizes BatchNorm between data-parallel workers: it needs --nproc-per-node (or --nnodes) with 2 or more in all, or torchrun\'s environment');
  }
  const data = await dataArg(values, json);
  const dir = path.resolve(str(values, 'out') ?? path.join('runs', runName(depth, shortcut, seed)));
  const stop = stopSignal(follower);
  const label = networkLabel(depth, shortcut);
  const p = follower ? { onProgress: () => undefined, end: () => undefined } : progressPrinter(json, label);
  const ranks = config.worldSize > 1 ? `, ${config.worldSize} ranks × batch ${config.batchSize}` : '';
  const length = config.epochs === undefined ? `${config.iterations} iterations` : `${config.epochs} epochs`;
  const start = config.from === undefined ? '' : ` from ${config.from}${config.freeze ? ` (frozen: ${[config.freeze].flat().join(', ')})` : ''}`;
  if (!json && !follower) out(`${label}${start}: ${length}, batch ${config.batchSize}${ranks}, lr ${config.lr} (÷10 at ${config.milestones.join(', ')}${config.epochs === undefined ? '' : ' epochs'}), seed ${seed}, ${config.precision}, data ${data} -> ${dir}`);
  try {
    const r = await trainRun({ data, out: dir, config, resume: values.resume === true, signal: stop.signal, onProgress: p.onProgress,
      reportEvery: json ? JSON_REPORT_EVERY : REPORT_EVERY });
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
