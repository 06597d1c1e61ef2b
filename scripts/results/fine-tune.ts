// npx tsx scripts/results/fine-tune.ts [--data DIR] [--per-class 10,100,1000] [--precision bf16|fp32]
// Fine-tuning, measured: the shipped CIFAR-10 ResNet-20 fine-tuned (fineTune: the head alone, then every layer) on
// small Fashion-MNIST subsets (the first k training images of each class), against the same network trained from
// scratch on the same subset for the same number of iterations at the same batch size; each evaluated on the 10,000
// test images. Grey images meet the colour network with their channel repeated three times (both arms). Writes
// docs/results/fine-tune.md (the table, the commands, the machine) and prints it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, ImageDataset, ResNet, Trainer, fineTune, info } from '../../lib/index';
import type { Precision } from '../../lib/index';
import { machineName } from '../../lib/base/info';

const { values: a } = parseArgs({
  options: { data: { type: 'string' }, 'per-class': { type: 'string' }, precision: { type: 'string' } },
});
const OUT = path.join(__dirname, '..', '..', 'docs', 'results', 'fine-tune.md');
const dir = a.data ?? FASHION_MNIST_DEBIAN_DIR;
const perClass = (a['per-class'] ?? '10,100,1000').split(',').map(Number);
const precision = (a.precision ?? 'bf16') as Precision;
// The budget of each subset: epochs of it, and the batch size (a few hundred images train at batch 32).
const budget = (n: number) => (n <= 200 ? { epochs: 40, batchSize: 32 } : n <= 2000 ? { epochs: 20, batchSize: 64 } : { epochs: 10, batchSize: 128 });

/** The first k training images of each class, as its own dataset. */
async function subset(all: ImageDataset, k: number): Promise<ImageDataset> {
  const { pixels, labels } = all.images(0, all.length);
  const per = all.shape.channels * all.shape.height * all.shape.width;
  const taken = new Array(all.classes.length).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < all.length && keep.length < k * all.classes.length; i++) {
    if (taken[labels[i]] < k) {
      taken[labels[i]]++;
      keep.push(i);
    }
  }
  const px = new Uint8Array(keep.length * per);
  keep.forEach((src, j) => px.set(pixels.subarray(src * per, (src + 1) * per), j * per));
  return ImageDataset.fromArrays(px, keep.map((i) => labels[i]), { shape: all.shape, layout: 'nchw', classes: all.classes });
}

async function main() {
  const all = await ImageDataset.loadMnist(dir, { classes: FASHION_MNIST_CLASSES });
  const test = await ImageDataset.loadMnist(dir, { split: 'test', classes: FASHION_MNIST_CLASSES });
  const rows: string[] = [];
  const raw: object[] = [];
  for (const k of perClass) {
    const data = await subset(all, k);
    const { epochs, batchSize } = budget(data.length);
    const headEpochs = Math.max(1, Math.round(epochs / 5));
    const iterations = Math.round(headEpochs * Math.ceil(data.length / batchSize)) + Math.round((epochs - headEpochs) * Math.ceil(data.length / batchSize));
    const t0 = Date.now();
    const tuned = await ResNet.pretrained('resnet20', { device: 'cpu' });
    await fineTune(tuned, data, { headEpochs, epochs: epochs - headEpochs, batchSize, precision });
    const tunedError = (await tuned.evaluate(test)).error;
    const tunedSeconds = (Date.now() - t0) / 1000;
    tuned.dispose();
    const t1 = Date.now();
    const scratch = new ResNet({ depth: 20, numClasses: 10, seed: 0, device: 'cpu' });
    await new Trainer(scratch, { iterations, batchSize, precision, milestones: [Math.round(iterations / 2), Math.round(iterations * 0.75)] }).fit(data);
    const scratchError = (await scratch.evaluate(test)).error;
    const scratchSeconds = (Date.now() - t1) / 1000;
    scratch.dispose();
    raw.push({ perClass: k, images: data.length, epochs, headEpochs, batchSize, iterations, tunedError, scratchError, tunedSeconds, scratchSeconds });
    rows.push(`| ${k} | ${data.length.toLocaleString('en-US')} | ${epochs} (${headEpochs} head + ${epochs - headEpochs} all) | ${batchSize} | ${iterations.toLocaleString('en-US')} | **${tunedError.toFixed(2)}** | ${scratchError.toFixed(2)} | ${tunedSeconds.toFixed(0)} / ${scratchSeconds.toFixed(0)} |`);
    console.log(rows.at(-1));
  }
  const md = `# Fine-tuning, measured

[← results](../results.md) · written by \`npx tsx scripts/results/fine-tune.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`.

The shipped CIFAR-10 \`resnet20\` (8.05 % on CIFAR-10) fine-tuned with \`fineTune\` (a new head, the head alone on the
frozen backbone at lr 0.1 for a fifth of the epochs, then every layer at lr 0.01, ÷10 at 75 %) on the first *k*
Fashion-MNIST training images of each class, against the same network (ResNet-20, option A, colour input) trained
from scratch with the paper's recipe scaled to the same number of iterations (lr 0.1, ÷10 at 50 % and 75 %) at the
same batch size. Both arms: grey images with their channel repeated three times, the subset's per-pixel mean,
pad-4 crop and flips, ${precision}; test error on the 10,000 Fashion-MNIST test images, one run each.

| images per class | images | epochs | batch | iterations | fine-tuned test error (%) | from scratch (%) | seconds (tuned / scratch) |
|---:|---:|---|---:|---:|---:|---:|---|
${rows.join('\n')}

Machine: ${machineName()}, ${info().threads} threads, libtorch ${info().libtorch.version}, ${new Date().toISOString().slice(0, 10)}.

\`\`\`json
${JSON.stringify(raw, null, 2)}
\`\`\`
`;
  fs.writeFileSync(OUT, md);
  console.log(`wrote ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
