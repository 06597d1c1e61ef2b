// A training run's settings: what config.json holds, flat, and the Trainer's options among them under TrainerOptions'
// own names.
import type { DeviceSpec, Shortcut } from '../model/resnet';
import type { TrainerOptions } from '../train/trainer';

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
  /** Image folders only: the side images are decoded to (absent: 32). */
  imageSize?: number;
  /** Image folders only: decode as grey. */
  grayscale?: boolean;
}

/** The settings that must match for --resume to continue a run exactly. */
export const RESUME_KEYS: (keyof RunConfig)[] = ['depth', 'shortcut', 'batchSize', 'seed', 'holdout', 'normalization', 'worldSize',
  'imageSize', 'grayscale'];

/** The TrainerOptions of a run: its trainer fields as they are, and data parallelism from torchrun's environment. */
export function runTrainerOptions(c: RunConfig): TrainerOptions {
  return {
    iterations: c.iterations, milestones: c.milestones, lr: c.lr, batchSize: c.batchSize, seed: c.seed,
    normalization: c.normalization, warmup: c.warmup, precision: c.precision, cudaGraphs: c.cudaGraphs,
    distributed: c.worldSize > 1 ? { syncBatchNorm: c.syncBatchNorm === true } : undefined,
  };
}

