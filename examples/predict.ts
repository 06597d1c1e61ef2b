// Data: the CIFAR-10 test batch (binary version) at CIFAR10_DIR, default ../shared/cifar10/cifar-10-batches-bin.
// Command: npx tsx examples/predict.ts [checkpoint.pt | pytorch_state_dict.pt]
// Expected: prints the device and libtorch, then the predicted class of the first 8 test images and their true
// labels. With no file the weights are untrained (about 10 % right); with a trained checkpoint most are right.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResNet, info, IMAGE_SIZE } from '../lib/index';

const dir = process.env.CIFAR10_DIR ?? path.join(__dirname, '../../shared/cifar10/cifar-10-batches-bin');
const CLASSES = fs.readFileSync(path.join(dir, 'batches.meta.txt'), 'utf8').split('\n').filter(Boolean);
const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.2435, 0.2616];

async function main() {
  const file = process.argv[2];
  const model = file?.includes('state_dict') ? new ResNet({ depth: 20 }) : file ? await ResNet.load(file) : new ResNet({ depth: 20, seed: 0 });
  if (file?.includes('state_dict')) await model.loadStateDict(file);
  const i = info();
  console.log(`ResNet-${model.config.depth} (${model.parameterCount} parameters) on ${model.device}, libtorch ${i.libtorch.version}`);
  const n = 8;
  const raw = fs.readFileSync(path.join(dir, 'test_batch.bin')).subarray(0, n * 3073);
  const x = new Float32Array(n * IMAGE_SIZE);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < IMAGE_SIZE; j++) x[k * IMAGE_SIZE + j] = (raw[k * 3073 + 1 + j] / 255 - MEAN[j >> 10]) / STD[j >> 10];
  }
  const logits = await model.predict(x, n);
  for (let k = 0; k < n; k++) {
    const row = Array.from(logits.subarray(k * 10, k * 10 + 10));
    const best = row.indexOf(Math.max(...row));
    console.log(`image ${k}: predicted ${CLASSES[best].padEnd(10)} true ${CLASSES[raw[k * 3073]]}`);
  }
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
