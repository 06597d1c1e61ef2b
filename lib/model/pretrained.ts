// The networks this package ships trained: pretrained/<name>.safetensors beside lib/ and dist/. Each file is one of
// our safetensors checkpoints (weights, buffers, the normalization it was trained with) whose meta records, under
// `pretrained`, its test error and how it was trained (scripts/results/pretrained.ts writes them from a finished run).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpointMeta } from '../io/checkpoint';
import type { MetaValue, ResNetConfig } from '../base/types';
import * as v from '../base/validate';

/** Where the shipped weights are. */
export const PRETRAINED_DIR = path.join(__dirname, '..', '..', 'pretrained');

const EXTENSION = '.safetensors';

/** One shipped network: its name, file, shape, test error and how it was trained. */
export interface PretrainedInfo {
  /** What ResNet.pretrained and the CLI's --pretrained take, e.g. 'resnet20'. */
  name: string;
  /** The shipped weights file (safetensors). */
  file: string;
  /** The network's shape. */
  config: ResNetConfig;
  /** Top-1 error (%) on the 10,000 CIFAR-10 test images, evaluated in fp32 when the file was made. */
  testError: number;
  /** How the network was trained: the run's settings, device, time (recorded when the file was made). */
  training: Record<string, MetaValue>;
}

/** The names of the shipped networks, sorted. */
export function pretrainedNames(): string[] {
  if (!fs.existsSync(PRETRAINED_DIR)) return [];
  return fs.readdirSync(PRETRAINED_DIR).filter((f) => f.endsWith(EXTENSION)).map((f) => f.slice(0, -EXTENSION.length)).sort();
}

/** The file of a shipped network; an unknown name is an error listing the shipped ones. */
export function pretrainedFile(name: unknown): string {
  const names = pretrainedNames();
  if (names.length === 0) throw new Error(`No pretrained weights are installed (expected *${EXTENSION} files in ${PRETRAINED_DIR})`);
  return path.join(PRETRAINED_DIR, v.oneOf('name', name, names) + EXTENSION);
}

/** Every shipped network with its recorded test error and training, read from the files' meta (no weights loaded). */
export async function pretrainedModels(): Promise<PretrainedInfo[]> {
  const infos: PretrainedInfo[] = [];
  for (const name of pretrainedNames()) {
    const file = path.join(PRETRAINED_DIR, name + EXTENSION);
    const c = await readCheckpointMeta(file);
    const p = c.meta.pretrained as { testError?: unknown; training?: unknown } | undefined;
    if (typeof p?.testError !== 'number' || typeof p.training !== 'object' || p.training === null || Array.isArray(p.training)) {
      throw new Error(`${file} is not a pretrained file of this package (expected meta.pretrained with testError and training)`);
    }
    infos.push({ name, file, config: c.config, testError: p.testError, training: p.training as Record<string, MetaValue> });
  }
  return infos;
}
