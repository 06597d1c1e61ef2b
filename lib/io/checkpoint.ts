// Our checkpoint files from TypeScript: the file name a training run writes, and what a checkpoint holds, read
// without building a model (native/core/checkpoint/checkpoint.h defines the format).
import { native, type NativeCheckpoint } from '../base/native';
import type { CheckpointTrainerState, MetaValue, ResNetConfig } from '../base/types';
import { fromNative, type Normalization } from '../base/normalization';
import * as v from '../base/validate';

/** The file a fit with `checkpoint: { dir }` writes into dir and resumes from. */
export const CHECKPOINT_FILE = 'checkpoint.pt';

/** What one of our checkpoint files holds, without its tensors. */
export interface CheckpointInfo {
  /** The network's shape. */
  config: ResNetConfig;
  /** The whole meta dict: format keys, normalization and the user's plain data (e.g. iteration, run). */
  meta: Record<string, MetaValue>;
  /** The normalization its model was trained with, if recorded. */
  normalization: Normalization | undefined;
  /** The libtorch version that wrote it. */
  libtorch: string;
  /** Written by a fit: where it stopped, its settings and history; undefined for a checkpoint written by save. */
  trainer: CheckpointTrainerState | undefined;
}

/**
 * What a checkpoint holds, without its tensors (no tensor data is read): config, meta, normalization and the trainer
 * state of a fit. The file is checked like any other (zip CRCs, format); errors name it.
 */
export async function readCheckpointMeta(path: string): Promise<CheckpointInfo> {
  v.nonEmptyString('path', path);
  return fromNativeCheckpoint(await native().readCheckpoint(path, false));
}

function fromNativeCheckpoint(c: NativeCheckpoint): CheckpointInfo {
  const t = c.trainer;
  return {
    config: c.config,
    meta: c.meta,
    normalization: c.normalization ? fromNative(c.normalization) : undefined,
    libtorch: c.libtorch,
    trainer: t ? {
      iteration: t.iteration, iterations: t.iterations, seed: t.seed, batchSize: t.batchSize, trainSize: t.trainSize,
      precision: t.precision, worldSize: t.worldSize,
      train: t.train, eval: t.eval,
    } : undefined,
  };
}

/**
 * Every tensor of a checkpoint as float32 arrays by name: the weights and buffers, and a fit's momentum buffers.
 * For comparing checkpoints (tests) and inspecting them.
 */
export async function readCheckpointTensors(path: string): Promise<{ stateDict: Record<string, Float32Array>;
  momentum: Record<string, Float32Array> }> {
  v.nonEmptyString('path', path);
  const c = await native().readCheckpoint(path, true);
  return { stateDict: c.stateDict ?? {}, momentum: c.trainer?.momentum ?? {} };
}
