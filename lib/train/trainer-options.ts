// The Trainer's options resolved once: every rule checked here (the recipe's defaults filled in), and the result is
// what the addon takes, under the same names (NativeFitOptions extends it). The CLI resolves its flags through the
// same function, so a rule and its message exist once.
import { native } from '../base/native';
import { checkDistributed } from './distributed';
import type { TrainerOptions } from './fit-types';
import type { Augmentation, ResolvedTrainerOptions, ResolvedWarmup, Stage } from '../base/types';
import { toNative } from '../base/normalization';
import { checkPrecision } from '../base/precision';
import { MILESTONE_FRACTIONS, RECIPE } from '../base/recipe';
import * as v from '../base/validate';

export const TRAINER_KEYS = ['iterations', 'epochs', 'milestones', 'gamma', 'lr', 'momentum', 'weightDecay', 'batchSize', 'seed',
  'warmup', 'augment', 'freeze', 'lrScale', 'normalization', 'channelsLast', 'fusedBatchNorm', 'precision', 'cudaGraphs', 'distributed'] as const;

export type { ResolvedTrainerOptions, ResolvedWarmup };

/** The most epochs a fit may be given (and, made iterations, at most MAX_ITERATIONS). */
const MAX_EPOCHS = 1e6;
const MAX_ITERATIONS = 1e9;

/** Milestones in the length's unit: whole iterations, or epochs (fractions allowed) when `inEpochs`. */
function milestones(ms: unknown, inEpochs: boolean): number[] {
  if (!Array.isArray(ms)) throw v.invalid('milestones', `to be an array of ${inEpochs ? 'epochs' : 'iterations'}`, ms);
  ms.forEach((m, i) => {
    if (inEpochs) v.inRange(`milestones[${i}]`, v.positive(`milestones[${i}]`, m), 0, MAX_EPOCHS);
    else v.integer(`milestones[${i}]`, m, 1, 1e9);
    if (i > 0 && m <= ms[i - 1]) {
      throw Object.assign(new RangeError(`Expected milestones in increasing order but received [${ms.join(', ')}]`),
        { option: 'milestones', requirement: 'in increasing order', received: `[${ms.join(', ')}]` });
    }
  });
  return [...(ms as number[])];
}

function warmup(w: unknown): ResolvedWarmup | undefined {
  if (w === undefined) return undefined;
  const o = v.checkKeys('warmup', w, ['lr', 'iterations', 'untilError']);
  if (o.iterations === undefined && o.untilError === undefined) {
    throw v.invalid('warmup', 'to set iterations or untilError (e.g. { lr: 0.01, iterations: 400 })', w);
  }
  return {
    lr: v.positive('warmup.lr', o.lr),
    ...(o.iterations === undefined ? {} : { iterations: v.integer('warmup.iterations', o.iterations, 1, 1e9) }),
    ...(o.untilError === undefined ? {} : { untilError: v.positive('warmup.untilError', o.untilError, 100) }),
  };
}

function augment(a: unknown): Augmentation | undefined {
  if (a === undefined) return undefined;
  const o = v.checkKeys('augment', a, ['padCrop', 'flip']);
  return {
    padCrop: v.integer('augment.padCrop', o.padCrop ?? RECIPE.augment.padCrop, 0, native().constants.maxPad),
    flip: v.boolean('augment.flip', o.flip ?? RECIPE.augment.flip),
  };
}

/** The stages 'backbone' names: every one but the head. */
export const BACKBONE: readonly Stage[] = Object.freeze(['stem', 'block1', 'block2', 'block3']);

function freeze(f: unknown): Stage[] | undefined {
  if (f === undefined) return undefined;
  const stages = native().constants.stages;
  if (f === 'backbone') return [...BACKBONE];
  if (!Array.isArray(f)) throw v.invalid('freeze', `to be 'backbone' or an array of stages (${stages.join(', ')})`, f);
  return [...new Set(f.map((s, i) => v.oneOf(`freeze[${i}]`, s, stages)))];
}

function lrScale(s: unknown): Partial<Record<Stage, number>> | undefined {
  if (s === undefined) return undefined;
  const stages = native().constants.stages;
  const o = v.checkKeys('lrScale', s, stages);
  return Object.fromEntries(stages.filter((k) => o[k] !== undefined).map((k) => [k, v.inRange(`lrScale.${k}`, o[k], 0, 1e6)]));
}

/** Checks `options` for a model on `device` and fills in the recipe's defaults; errors are InvalidOption-shaped. */
export function resolveTrainerOptions(options: TrainerOptions, device: string | undefined): ResolvedTrainerOptions {
  const o = v.checkKeys('Trainer', options, TRAINER_KEYS);
  const norm = o.normalization ?? RECIPE.normalization;
  const w = warmup(o.warmup);
  const aug = augment(o.augment);
  const frozen = freeze(o.freeze);
  const scales = lrScale(o.lrScale);
  if (o.epochs !== undefined && o.iterations !== undefined) {
    throw v.invalid('epochs', 'to be absent when iterations is set (a fit\'s length is one or the other)', o.epochs, RangeError);
  }
  const epochs = o.epochs === undefined ? undefined : v.inRange('epochs', v.positive('epochs', o.epochs), 0, MAX_EPOCHS);
  if ((frozen || scales) && o.distributed !== undefined) {
    throw v.invalid('freeze', 'to be absent in a data-parallel fit (freeze and lrScale train one process)', o.freeze ?? o.lrScale, RangeError);
  }
  return {
    ...(epochs === undefined
      ? { iterations: v.integer('iterations', o.iterations ?? RECIPE.iterations, 1, MAX_ITERATIONS) }
      : { epochs }),
    milestones: milestones(o.milestones ?? (epochs === undefined ? RECIPE.milestones : MILESTONE_FRACTIONS.map((f) => f * epochs)), epochs !== undefined),
    gamma: v.positive('gamma', o.gamma ?? RECIPE.gamma),
    lr: v.positive('lr', o.lr ?? RECIPE.lr),
    momentum: v.inRange('momentum', o.momentum ?? RECIPE.momentum, 0, 1),
    weightDecay: v.inRange('weightDecay', o.weightDecay ?? RECIPE.weightDecay, 0, Infinity),
    batchSize: v.integer('batchSize', o.batchSize ?? RECIPE.batchSize, 1, 50_000),
    seed: v.integer('seed', o.seed ?? RECIPE.seed, 0, 2 ** 53 - 1),
    ...(w ? { warmup: w } : {}),
    ...(aug ? { augment: aug } : {}),
    ...(frozen ? { freeze: frozen } : {}),
    ...(scales ? { lrScale: scales } : {}),
    normalization: typeof norm === 'string' ? v.oneOf('normalization', norm, native().constants.normalizationKinds) : toNative(norm),
    channelsLast: v.boolean('channelsLast', o.channelsLast ?? true),
    fusedBatchNorm: v.boolean('fusedBatchNorm', o.fusedBatchNorm ?? true),
    precision: checkPrecision('precision', o.precision ?? 'fp32', device),
    cudaGraphs: v.boolean('cudaGraphs', o.cudaGraphs ?? true),
    ...(o.distributed === undefined ? {} : { distributed: checkDistributed(o.distributed) }),
  };
}

/** A fit's length and learning-rate steps in iterations, for a training set of this many images. */
export interface Schedule {
  /** Total iterations. */
  iterations: number;
  /** Iterations at which the learning rate is multiplied by gamma. */
  milestones: number[];
  /** Iterations in one pass over the training set (each rank's shard of it when distributed; the last batch may be smaller). */
  iterationsPerEpoch: number;
}

/**
 * `o`'s schedule in iterations for `trainSize` training images: as given, or, with `epochs`, epochs × iterations per
 * epoch (rounded, at least 1), as the addon counts them (each rank's shard, the last batch of an epoch smaller).
 */
export function scheduleFor(o: Pick<ResolvedTrainerOptions, 'iterations' | 'epochs' | 'milestones' | 'batchSize' | 'distributed'>,
  trainSize: number): Schedule {
  const shard = Math.ceil(trainSize / (o.distributed?.worldSize ?? 1));
  const iterationsPerEpoch = Math.max(1, Math.ceil(shard / o.batchSize));
  if (o.epochs === undefined) return { iterations: o.iterations!, milestones: [...o.milestones], iterationsPerEpoch };
  const at = (e: number) => Math.max(1, Math.round(e * iterationsPerEpoch));
  const iterations = at(o.epochs);
  if (iterations > MAX_ITERATIONS) {
    throw v.invalid('epochs', `to make at most ${MAX_ITERATIONS} iterations (${iterationsPerEpoch} an epoch)`, o.epochs, RangeError);
  }
  return { iterations, milestones: o.milestones.map(at), iterationsPerEpoch };
}
