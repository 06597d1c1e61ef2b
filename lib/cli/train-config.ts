// train's and reproduce's training options, read into a run's RunConfig with the recipe's defaults.
import type { RunConfig } from '../run';
import type { Shortcut } from '../resnet';
import { RECIPE, RUN_CHECKPOINT_EVERY, milestonesFor, runEvalEvery } from '../recipe';
import { torchrunWorker } from '../torchrun';
import { DATA, UsageError, deviceArg, int, list, num, precisionArg, str, type Opts, type Values } from './args';

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
  'no-cuda-graphs': { type: 'boolean' },
};

/** The options of one run: the recipe's defaults, milestones scaled with --iterations. */
export function trainConfig(values: Values, depth: number, shortcut: Shortcut, seed: number): RunConfig {
  const s = (k: string) => str(values, k);
  const iterations = int('iterations', s('iterations'), RECIPE.iterations, 1);
  const milestones = list('milestones', s('milestones'), milestonesFor(iterations));
  const norm = s('normalization') ?? RECIPE.normalization;
  if (norm !== 'pixel' && norm !== 'channel') throw new UsageError(`--normalization must be pixel or channel, got '${norm}'`);
  const warmupLr = s('warmup-lr');
  const warmup = warmupLr === undefined ? undefined : {
    lr: num('warmup-lr', warmupLr, RECIPE.warmup.lr),
    iterations: s('warmup-iterations') === undefined ? undefined
      : int('warmup-iterations', s('warmup-iterations'), RECIPE.warmup.iterations, 1),
    untilError: s('warmup-until-error') === undefined ? undefined
      : num('warmup-until-error', s('warmup-until-error'), RECIPE.warmup.untilError),
  };
  if (warmupLr === undefined && (s('warmup-iterations') || s('warmup-until-error'))) {
    throw new UsageError('--warmup-iterations / --warmup-until-error need --warmup-lr');
  }
  return {
    depth, shortcut, seed, iterations, milestones,
    lr: num('lr', s('lr'), RECIPE.lr),
    batchSize: int('batch-size', s('batch-size'), RECIPE.batchSize, 1),
    holdout: int('holdout', s('holdout'), 0),
    device: deviceArg(s('device')),
    evalEvery: int('eval-every', s('eval-every'), runEvalEvery(iterations), 1),
    checkpointEvery: int('checkpoint-every', s('checkpoint-every'), RUN_CHECKPOINT_EVERY, 1),
    normalization: norm,
    warmup,
    precision: precisionArg(s('precision')),
    worldSize: torchrunWorker()?.worldSize ?? 1,
    syncBatchNorm: values['sync-bn'] === true,
    cudaGraphs: values['no-cuda-graphs'] !== true,
  };
}
