// The paper's CIFAR-10 training recipe (He et al. 2016, section 4.2) and the other defaults of training and
// evaluation, in one place: the Trainer, the run folders, the CLI, the benchmarks and the GPU driver read them from
// here, and the addon receives every one as an argument (test/recipe.test.ts checks native/core's headers agree).
// Imports nothing.

export const RECIPE = Object.freeze({
  /** Total iterations (64k; about 164 epochs of the 50k training images at batch 128). */
  iterations: 64_000,
  /** lr ÷10 at these iterations of the 64k. */
  milestones: Object.freeze([32_000, 48_000]) as readonly number[],
  gamma: 0.1,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 1e-4,
  batchSize: 128,
  seed: 0,
  /** The per-pixel mean of the training set. */
  normalization: 'pixel' as const,
  /** ResNet-110's warm-up: lr 0.01 until the training error is below 80 % (about 400 iterations). */
  warmup: Object.freeze({ lr: 0.01, iterations: 400, untilError: 80 }),
  /** Pad by 4, random 32×32 crop, random horizontal flip. */
  augment: Object.freeze({ padCrop: 4, flip: true }),
});

/** The milestones' places in a run of another length: 50 % and 75 % of it (32k and 48k of 64k). */
export const MILESTONE_FRACTIONS: readonly number[] = Object.freeze([0.5, 0.75]);

/** The paper's milestones scaled to `iterations` (exactly 32,000 and 48,000 for 64,000). */
export function milestonesFor(iterations: number): number[] {
  return MILESTONE_FRACTIONS.map((f) => Math.round(iterations * f));
}

/** Images per forward pass when evaluating (evaluate, fit's evaluations, eval). */
export const EVAL_BATCH_SIZE = 500;

/** A fit reports training progress every this many iterations. */
export const REPORT_EVERY = 10;

/** A run folder's checkpoint is rewritten every this many iterations. */
export const RUN_CHECKPOINT_EVERY = 1000;

/** A run folder evaluates 20 times over its length (at least every 50 iterations apart) and at the end. */
export function runEvalEvery(iterations: number): number {
  return Math.max(50, Math.round(iterations / 20));
}

/** Data-parallel rendezvous and failure detection, as torchrun's defaults. */
export const DISTRIBUTED = Object.freeze({ masterAddr: '127.0.0.1', masterPort: 29_500, timeoutMs: 60_000 });
