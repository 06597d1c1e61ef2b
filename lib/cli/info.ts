// resnet-cifar info: the libtorch in use, CUDA, threads, the addon build, pretrained networks and where data is looked for.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultCacheDir } from '../base/download';
import { info } from '../base/info';
import { pretrainedModels } from '../model/pretrained';
import { DATA, dataArg, parse } from './args';
import { detectSource, loadSplit } from '../data/sources';
import type { ImageShape } from '../base/types';
import { help } from './help';
import { out } from './output';

export async function cmdInfo(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, { data: DATA.data });
  if (values.help) return help('info');
  if (values.data !== undefined) return describeData(await dataArg(values, values.json === true), values.json === true);
  const i = info();
  const data = {
    CIFAR10_DIR: process.env.CIFAR10_DIR ?? null,
    cache: defaultCacheDir(),
    cached: fs.existsSync(path.join(defaultCacheDir(), 'cifar-10-binary.tar.gz')),
  };
  const pretrained = (await pretrainedModels()).map((m) => ({ name: m.name, depth: m.config.depth, shortcut: m.config.shortcut, testError: m.testError }));
  if (values.json) {
    out(JSON.stringify({ ...i, data, pretrained }));
    return 0;
  }
  out(`libtorch   ${i.libtorch.version} at ${i.libtorch.path} (${i.libtorch.cuda ? 'CUDA build' : 'CPU-only build'})`);
  out(`CUDA       ${i.cuda.available ? `available, ${i.cuda.deviceCount} device(s), cuDNN ${i.cuda.cudnn ? 'yes' : 'no'}` : 'not available'}`);
  out(`threads    ${i.threads} (setNumThreads / OMP_NUM_THREADS); fused BN + ReLU kernels: ${i.fusedKernels}`);
  out(`cpu bf16   ${i.cpu.bf16 === 'emulated' ? 'no AMX-BF16 or AVX512-BF16: --precision bf16 works but is slower than fp32'
    : `${i.cpu.bf16 === 'amx-bf16' ? 'AMX-BF16' : 'AVX512-BF16'} (--precision bf16 runs convolutions on it)`}` +
    (i.cpu.isaCap ? ` (oneDNN capped at ONEDNN_MAX_CPU_ISA=${i.cpu.isaCap})` : ''));
  out(`addon      ${i.addon.build} build, ${i.addon.path}; distributed: ${i.distributed.length ? i.distributed.join(', ') : 'none (built without libgloo-dev)'}`);
  out(`pretrained ${pretrained.length ? pretrained.map((m) => `${m.name} (ResNet-${m.depth}, test error ${m.testError.toFixed(2)} %)`).join(', ')
    : 'none installed'}; eval/predict --pretrained NAME`);
  out(`data       --data, else CIFAR10_DIR (${data.CIFAR10_DIR ?? 'not set'}), else ${path.join(data.cache, 'cifar-10-binary.tar.gz')} (${data.cached ? 'present' : 'absent; --download fetches it'})`);
  return 0;
}

/** info --data: what a dataset holds, read as train and eval would read it. */
async function describeData(source: string, json: boolean): Promise<number> {
  const kind = detectSource(source);
  const splits: { split: string; images: number; shape: ImageShape; classes: readonly string[]; perClass: number[] }[] = [];
  for (const split of ['train', 'test'] as const) {
    const d = await loadSplit(source, split);
    splits.push({ split, images: d.length, shape: d.shape, classes: d.classes, perClass: d.labelCounts() });
  }
  if (json) {
    out(JSON.stringify({ data: source, kind, splits }));
    return 0;
  }
  const [first] = splits;
  out(`data       ${source} (${{ cifar10: 'CIFAR-10', cifar100: 'CIFAR-100, fine labels', mnist: 'MNIST-format IDX files', folder: 'image folder, 32×32' }[kind]})`);
  out(`images     ${first.shape.channels}×${first.shape.height}×${first.shape.width} (${first.shape.channels === 1 ? 'grey' : 'colour'})`);
  for (const s of splits) out(`${s.split.padEnd(10)} ${s.images} images`);
  out(`classes    ${first.classes.length}:`);
  first.classes.forEach((c, i) => out(`  ${String(i).padStart(3)} ${c.padEnd(16)} ${splits.map((s) => `${s.split} ${s.perClass[i]}`).join(', ')}`));
  return 0;
}
