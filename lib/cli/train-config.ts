// train's and reproduce's training options, read into a run's RunConfig with the recipe's defaults.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTrainerOptions, type RunConfig } from '../run';
import type { Shortcut } from '../model/resnet';
import { MILESTONE_FRACTIONS, RECIPE, RUN_CHECKPOINT_EVERY, milestonesFor } from '../base/recipe';
import type { Stage } from '../base/types';
import { torchrunWorker } from '../base/torchrun';
import type { Precision } from '../base/precision';
import { resolveTrainerOptions } from '../train/trainer-options';
import * as v from '../base/validate';
import { DATA, UsageError, asFlags, deviceArg, int, list, num, str, type Opts, type Values } from './args';

export const TRAIN_OPTS: Opts = {
  ...DATA,
  depth: { type: 'string' }, shortcut: { type: 'string' }, iterations: { type: 'string' }, milestones: { type: 'string' },
  lr: { type: 'string' }, 'batch-size': { type: 'string' }, seed: { type: 'string' }, holdout: { type: 'string' },
  device: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, normalization: { type: 'string' },
  precision: { type: 'string' },
  'warmup-lr': { type: 'string' }, 'warmup-iterations': { type: 'string' }, 'warmup-until-error': { type: 'string' },
  'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' },
  'nproc-per-node': { type: 'string' }, nnodes: { type: 'string' }, 'node-rank': { type: 'string' },
  'master-addr': { type: 'string' }, 'master-port': { type: 'string' }, 'sync-bn': { type: 'boolean' },
  'no-cuda-graphs': { type: 'boolean' }, size: { type: 'string' }, grayscale: { type: 'boolean' },
  epochs: { type: 'string' }, from: { type: 'string' }, freeze: { type: 'string' },
};

/** Which flag sets each of the Trainer's options: lib's rule errors are said in these flags' words. */
export const TRAINER_FLAGS: Record<string, string> = {
  iterations: 'iterations', epochs: 'epochs', milestones: 'milestones', freeze: 'freeze', lr: 'lr', batchSize: 'batch-size', seed: 'seed',
  precision: 'precision', normalization: 'normalization', 'warmup.lr': 'warmup-lr',
  'warmup.iterations': 'warmup-iterations', 'warmup.untilError': 'warmup-until-error',
};

/**
 * The options of one run: the recipe's defaults, milestones scaled with --iterations. The flags are parsed here
 * (numbers, integers, lists); the rules are the library's own (resolveTrainerOptions), said as flag errors.
 */
export function trainConfig(values: Values, depth: number, shortcut: Shortcut, seed: number): RunConfig {
  const s = (k: string) => str(values, k);
  if (s('epochs') !== undefined && s('iterations') !== undefined) throw new UsageError('give --iterations or --epochs, not both');
  const epochs = s('epochs') === undefined ? undefined : num('epochs', s('epochs'), 0);
  const iterations = int('iterations', s('iterations'), RECIPE.iterations);
  // A file by its absolute path (a resume from elsewhere finds it), else a shipped network's name.
  const from = s('from') !== undefined && fs.existsSync(s('from')!) && fs.statSync(s('from')!).isFile() ? path.resolve(s('from')!) : s('from');
  // From a trained network: its own statistics by default (when they fit the data); 'network' needs one.
  const norm = (s('normalization') ?? (from === undefined ? RECIPE.normalization : 'network')) as RunConfig['normalization'];
  if (norm === 'network' && from === undefined) throw new UsageError('--normalization network needs --from (the network whose statistics it takes)');
  if (s('freeze') !== undefined && from === undefined) throw new UsageError('--freeze needs --from (a trained network to keep part of)');
  const freeze = s('freeze') === undefined ? undefined : s('freeze') === 'backbone' ? 'backbone' as const
    : s('freeze')!.split(',').map((x) => x.trim()) as Stage[]; // checked by lib below
  const warmupLr = s('warmup-lr');
  if (warmupLr === undefined && (s('warmup-iterations') || s('warmup-until-error'))) {
    throw new UsageError('--warmup-iterations / --warmup-until-error need --warmup-lr');
  }
  const warmup = warmupLr === undefined ? undefined : {
    lr: num('warmup-lr', warmupLr, RECIPE.warmup.lr),
    ...(s('warmup-iterations') === undefined ? {} : { iterations: int('warmup-iterations', s('warmup-iterations'), 0) }),
    ...(s('warmup-until-error') === undefined ? {} : { untilError: num('warmup-until-error', s('warmup-until-error'), 0) }),
  };
  const config: RunConfig = {
    depth, shortcut, seed,
    ...(epochs === undefined ? { iterations } : { epochs }),
    milestones: list('milestones', s('milestones'), epochs === undefined ? milestonesFor(iterations) : MILESTONE_FRACTIONS.map((f) => f * epochs)),
    lr: num('lr', s('lr'), RECIPE.lr),
    batchSize: int('batch-size', s('batch-size'), RECIPE.batchSize),
    holdout: int('holdout', s('holdout'), 0),
    device: deviceArg(s('device')),
    ...(s('eval-every') === undefined ? {} : { evalEvery: int('eval-every', s('eval-every'), 0, 1) }),
    checkpointEvery: int('checkpoint-every', s('checkpoint-every'), RUN_CHECKPOINT_EVERY, 1),
    normalization: norm,
    ...(warmup ? { warmup } : {}),
    precision: (s('precision') ?? 'fp32') as Precision,
    worldSize: torchrunWorker()?.worldSize ?? 1,
    syncBatchNorm: values['sync-bn'] === true,
    cudaGraphs: values['no-cuda-graphs'] !== true,
    ...(s('size') === undefined ? {} : { imageSize: int('size', s('size'), 32, 8) }),
    ...(values.grayscale === true ? { grayscale: true } : {}),
    ...(from === undefined ? {} : { from }),
    ...(freeze === undefined ? {} : { freeze }),
  };
  // The library's rules, before any work: the run's Trainer resolves the same options again on the run's device.
  try {
    resolveTrainerOptions({ ...runTrainerOptions(config), distributed: undefined }, undefined);
  } catch (e) {
    // A warm-up without its end, in the flags' words; any other rule through the flag table.
    if (v.isInvalidOption(e) && e.option === 'warmup') throw new UsageError('--warmup-lr needs --warmup-iterations or --warmup-until-error');
    asFlags(TRAINER_FLAGS, () => { throw e; });
  }
  return config;
}
