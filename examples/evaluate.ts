// Data: real CIFAR-10, binary version, at CIFAR10_DIR (default ../shared/cifar10/cifar-10-batches-bin).
// Command: npx tsx examples/evaluate.ts [checkpoint.pt | seed_resnet20.state_dict.pt]
// Expected: the model, device and libtorch, then its error on the 10,000 test images with a per-class table.
// With no file the weights are untrained (about 90 % error, chance); with trained weights, the trained error.
import * as path from 'node:path';
import { Cifar10, ResNet, info } from '../lib/index';

const dir = process.env.CIFAR10_DIR ?? path.join(__dirname, '../../shared/cifar10/cifar-10-batches-bin');

async function main() {
  const file = process.argv[2];
  const isCheckpoint = file !== undefined && !file.includes('state_dict');
  const model = isCheckpoint ? await ResNet.load(file) : new ResNet({ depth: 20, seed: 0 });
  if (file && !isCheckpoint) await model.loadStateDict(file);
  console.log(`ResNet-${model.config.depth} (${model.parameterCount} parameters) on ${model.device}, libtorch ${info().libtorch.version}`);
  const test = await Cifar10.load(dir, { split: 'test' });
  const t0 = Date.now();
  const r = await model.evaluate(test);
  console.log(`test error ${r.error.toFixed(2)} % (loss ${r.loss.toFixed(3)}) on ${r.count} images in ${Date.now() - t0} ms`);
  for (const c of r.perClass) console.log(`  ${c.name.padEnd(11)} ${c.error.toFixed(1).padStart(5)} %`);
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
