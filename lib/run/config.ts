// A training run's settings: what config.json holds, flat, and the Trainer's options among them under TrainerOptions'
// own names.
import type { DeviceSpec, Shortcut } from '../model/resnet';
import type { Normalization } from '../base/normalization';
import type { TrainerOptions } from '../train/trainer';

/**
 * The Trainer's options a run sets, under TrainerOptions' own names and types (the CLI's flags land here, and
 * config.json holds them flat beside the run's own settings).
 */
export type RunTrainerOptions = Required<Pick<TrainerOptions, 'milestones' | 'lr' | 'batchSize' | 'seed' | 'precision'>> &
  Pick<TrainerOptions, 'iterations' | 'epochs' | 'warmup' | 'cudaGraphs' | 'freeze'> & {
    /**
     * A kind: the statistics are computed from the training set; or 'network': the `from` network's own (when they
     * fit the data's images, else the data's per-pixel mean).
     */
    normalization: 'pixel' | 'channel' | 'network';
  };

export interface RunConfig extends RunTrainerOptions {
  depth: number;
  shortcut: Shortcut;
  /** Training images held out as the validation set (0: evaluate on the test set). */
  holdout: number;
  device: DeviceSpec;
  /** Evaluate every this many iterations (absent: 20 times over the run, runEvalEvery). */
  evalEvery?: number;
  checkpointEvery: number;
  /** Data-parallel ranks (torchrun's environment: RANK, WORLD_SIZE, …); batchSize is per rank. */
  worldSize: number;
  /** Data-parallel: BatchNorm statistics over the global batch (DistributedOptions.syncBatchNorm). */
  syncBatchNorm?: boolean;
  /** Image folders only: the side images are decoded to (absent: 32). */
  imageSize?: number;
  /** Image folders only: decode as grey. */
  grayscale?: boolean;
  /**
   * Start from this network instead of a new one: a shipped network's name (ResNet.pretrained) or a checkpoint or
   * weights file; its head is replaced (seeded) when the data has another number of classes.
   */
  from?: string;
}

/** The settings that must match for --resume to continue a run exactly. */
export const RESUME_KEYS: (keyof RunConfig)[] = ['depth', 'shortcut', 'batchSize', 'seed', 'holdout', 'normalization', 'worldSize',
  'imageSize', 'grayscale', 'from', 'freeze'];

/**
 * The TrainerOptions of a run: its trainer fields as they are, data parallelism from torchrun's environment, and
 * for normalization 'network' the `from` network's statistics as `network` gives them (absent: the data's per-pixel mean).
 */
export function runTrainerOptions(c: RunConfig, network?: Normalization | 'pixel'): TrainerOptions {
  return {
    ...(c.epochs === undefined ? { iterations: c.iterations } : { epochs: c.epochs }),
    milestones: c.milestones, lr: c.lr, batchSize: c.batchSize, seed: c.seed,
    normalization: c.normalization === 'network' ? network ?? 'pixel' : c.normalization, warmup: c.warmup, precision: c.precision,
    cudaGraphs: c.cudaGraphs, ...(c.freeze === undefined ? {} : { freeze: c.freeze }),
    distributed: c.worldSize > 1 ? { syncBatchNorm: c.syncBatchNorm === true } : undefined,
  };
}

