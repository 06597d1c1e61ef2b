// eval's and predict's model: one of --pretrained, --weights, --torchscript or --exported, with its normalization.
import type { ImageDataset } from '../data/image-dataset';
import { loadExported, loadTorchScript } from '../model/foreign';
import { networkLabel } from '../base/names';
import { CIFAR10_CHANNEL_NORMALIZATION, toNative, type Normalization } from '../base/normalization';
import type { ImageShape } from '../base/types';
import { CIFAR10_CLASSES } from '../data/cifar10';
import type { Precision } from '../base/precision';
import { pretrainedFile } from '../model/pretrained';
import { ResNet } from '../model/resnet';
import { UsageError, asFlags, deviceArg, existingFile, normalizeArg, shortcutArg, str, type Opts, type Values } from './args';

export const MODEL_OPTS: Opts = {
  pretrained: { type: 'string' }, weights: { type: 'string' }, checkpoint: { type: 'string' }, torchscript: { type: 'string' }, exported: { type: 'string' },
  normalize: { type: 'string' }, mean: { type: 'string' }, std: { type: 'string' }, shortcut: { type: 'string' },
  device: { type: 'string' }, precision: { type: 'string' },
};

/** The images a network takes: its channels, and the size its per-pixel mean was computed at (else CIFAR's 32×32). */
function inputShape(channels: 1 | 3, norm: Normalization): ImageShape {
  const n = toNative(norm);
  const s = n.kind === 'pixel' && n.shape ? n.shape : [channels, 32, 32];
  return { channels, height: s[1], width: s[2] };
}

/** A foreign module's class names: CIFAR-10's for 10 outputs, else numbered. */
function classNamesFor(k: number): readonly string[] {
  return k === CIFAR10_CLASSES.length ? CIFAR10_CLASSES : Array.from({ length: k }, (_, i) => `class ${i}`);
}

/** The model a command names, as one interface over our networks and PyTorch's programs. */
export async function loadModel(values: Values, cmd: string) {
  const sources = (['pretrained', 'weights', 'checkpoint', 'torchscript', 'exported'] as const).filter((k) => values[k] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError(`${cmd} needs exactly one of --pretrained NAME, --weights FILE, --torchscript FILE or --exported FILE`);
  }
  const kind = sources[0];
  const device = deviceArg(str(values, 'device'));
  const normalize = normalizeArg(values);
  if (kind === 'pretrained' || kind === 'weights' || kind === 'checkpoint') {
    let m: ResNet;
    let from: string;
    if (kind === 'pretrained') {
      const name = str(values, 'pretrained')!;
      try {
        asFlags({ name: 'pretrained' }, () => pretrainedFile(name));
      } catch (e) {
        throw e instanceof UsageError ? e : new UsageError((e as Error).message); // e.g. no weights installed
      }
      m = await ResNet.pretrained(name, { device });
      from = `pretrained '${name}'`;
    } else {
      const file = existingFile(str(values, kind)!);
      const shortcut = values.shortcut === undefined ? undefined : shortcutArg(str(values, 'shortcut'));
      m = await ResNet.load(file, { device, shortcut });
      const imported = m.meta.imported as { layout?: string } | undefined;
      from = imported?.layout ? `${imported.layout} weights ${file}` : file;
    }
    // Our checkpoints know their normalization; foreign weights need the one their code trained with.
    const norm = normalize ?? m.normalization ?? CIFAR10_CHANNEL_NORMALIZATION;
    return {
      name: `${networkLabel(m.config.depth, m.config.shortcut)} from ${from}`, norm, dispose: () => m.dispose(),
      classNames: m.classNames, shape: inputShape(m.config.inChannels, norm),
      predict: (x: Float32Array, n: number, precision: Precision) => m.predict(x, n, { precision }),
      evaluate: (d: ImageDataset, batchSize: number, precision: Precision) => m.evaluate(d, { batchSize, precision, normalization: norm }),
    };
  }
  const file = existingFile(str(values, kind)!);
  const load = kind === 'torchscript' ? loadTorchScript : loadExported;
  const m = await load(file, { device, normalize: normalize ?? CIFAR10_CHANNEL_NORMALIZATION });
  return {
    name: `${kind === 'torchscript' ? 'TorchScript' : 'AOTInductor package'} ${file}`, norm: m.normalization,
    dispose: () => m.dispose(), classNames: classNamesFor(m.numClasses), shape: inputShape(3, m.normalization),
    predict: (x: Float32Array, n: number, precision: Precision) => m.predict(x, n, { precision }),
    evaluate: (d: ImageDataset, batchSize: number, precision: Precision) => m.evaluate(d, { batchSize, precision }),
  };
}
