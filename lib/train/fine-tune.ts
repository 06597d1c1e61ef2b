// Fine-tuning a trained network on another image set, as timm's and fastai's recipes do it: a new head for the
// set's classes, trained alone on the frozen backbone for a few epochs, then every layer at a lower rate. Two
// Trainer fits; the defaults suit a few hundred images per class.
import type { ImageDataset } from '../data/image-dataset';
import type { Normalization } from '../base/normalization';
import { normalizationMismatch, toNative } from '../base/normalization';
import type { Precision } from '../base/precision';
import type { Augmentation } from '../base/types';
import * as v from '../base/validate';
import type { ResNet } from '../model/resnet';
import type { FitProgress, History } from './fit-types';
import { Trainer } from './trainer';

/** How fineTune trains (every field optional). */
export interface FineTuneOptions {
  /** Epochs of the head alone on the frozen backbone (default 5). */
  headEpochs?: number;
  /** Epochs of every layer after that (default 15). */
  epochs?: number;
  /** The head's learning rate in the first phase (default 0.1). */
  headLr?: number;
  /** Every layer's learning rate in the second phase, ÷10 at 75 % of it (default 0.01). */
  lr?: number;
  /** Images per iteration (default 64, or the set's size when smaller). */
  batchSize?: number;
  /** Replace the head even when it already has the set's classes (default: only when the class count differs). */
  newHead?: boolean;
  /** Default: the network's own normalization when it fits these images, else the set's per-pixel mean. */
  normalization?: 'pixel' | 'channel' | Normalization;
  /** Default the paper's `{ padCrop: 4, flip: true }`. */
  augment?: Partial<Augmentation>;
  /** Compute precision of both phases (default fp32). */
  precision?: Precision;
  /** Seeds the new head, the data order and the augmentation (default 0). */
  seed?: number;
  /** Evaluated at the end of each phase. */
  eval?: ImageDataset;
  /** Stops the phase in progress (with its checkpoint-free end); the second phase does not start. */
  signal?: AbortSignal;
  /** Each phase's progress, named by its phase. */
  onProgress?: (e: FitProgress & { phase: 'head' | 'all' }) => void;
}

/** The two fits' histories. */
export interface FineTuneResult {
  /** The head's fit on the frozen backbone. */
  head: History;
  /** Every layer's fit after it. */
  all: History;
}

/** A trained network's normalization for new images: its own when it applies to them, else their per-pixel mean. */
export function normalizationFor(model: ResNet, data: ImageDataset): 'pixel' | Normalization {
  const own = model.normalization;
  if (!own) return 'pixel';
  const fits = !normalizationMismatch(toNative(own), [model.config.inChannels, data.shape.height, data.shape.width]);
  return fits ? own : 'pixel';
}

/**
 * Fine-tunes `model` (for example `ResNet.pretrained('resnet56')`) on `train`: a new head for its classes when the
 * count differs (Kaiming-uniform, seeded), the head alone for `headEpochs` with the backbone frozen (no gradient, no
 * weight decay, BatchNorm statistics fixed), then every layer for `epochs` at `lr`. A colour network meets grey
 * images with their channel repeated three times.
 */
export async function fineTune(model: ResNet, train: ImageDataset, options: FineTuneOptions = {}): Promise<FineTuneResult> {
  const o = v.checkKeys('fineTune', options, ['headEpochs', 'epochs', 'headLr', 'lr', 'batchSize', 'newHead', 'normalization',
    'augment', 'precision', 'seed', 'eval', 'signal', 'onProgress']);
  const headEpochs = v.inRange('headEpochs', o.headEpochs ?? 5, 0, 1e6);
  const epochs = v.inRange('epochs', o.epochs ?? 15, 0, 1e6);
  if (headEpochs + epochs <= 0) throw v.invalid('epochs', 'to be positive, with headEpochs', epochs, RangeError);
  const seed = v.integer('seed', o.seed ?? 0, 0, 2 ** 31 - 1);
  const batchSize = v.integer('batchSize', o.batchSize ?? Math.min(64, train.length), 1, train.length);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw v.invalid('onProgress', 'to be a function', o.onProgress);
  const onProgress = o.onProgress as FineTuneOptions['onProgress'];
  if (o.newHead === true || model.config.numClasses !== train.classes.length) {
    model.resetClassifier(train.classes.length, { seed });
  }
  const normalization = (o.normalization as FineTuneOptions['normalization']) ?? normalizationFor(model, train);
  const common = { batchSize, seed, normalization, augment: o.augment as Partial<Augmentation> | undefined, precision: o.precision as Precision | undefined };
  const fitOptions = (phase: 'head' | 'all') => ({
    eval: o.eval as ImageDataset | undefined,
    signal: o.signal as AbortSignal | undefined,
    onProgress: onProgress && ((e: FitProgress) => onProgress({ ...e, phase })),
  });
  const empty = (n: Normalization | undefined): History => ({ iterations: 0, startIteration: 0, stopped: 'completed', seconds: 0,
    checkpoint: null, train: [], eval: [], normalization: n ?? { kind: 'channel', mean: [], std: [] }, notes: [] });
  const head = headEpochs > 0
    ? await new Trainer(model, { ...common, epochs: headEpochs, lr: v.positive('headLr', o.headLr ?? 0.1), milestones: [],
      freeze: 'backbone' }).fit(train, fitOptions('head'))
    : empty(typeof normalization === 'object' ? normalization : undefined);
  if (head.stopped !== 'completed' || epochs === 0) return { head, all: empty(head.normalization) };
  // The second phase keeps the first's statistics, so that the head trained on them stays valid.
  const all = await new Trainer(model, { ...common, normalization: headEpochs > 0 ? head.normalization : normalization, epochs,
    lr: v.positive('lr', o.lr ?? 0.01), milestones: [epochs * 0.75] }).fit(train, fitOptions('all'));
  return { head, all };
}
