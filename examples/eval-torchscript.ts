// Data: real CIFAR-10 test set from CIFAR10_DIR (or the download cache).
// Command: npx tsx examples/eval-torchscript.ts model.scripted.pt [mean0,mean1,mean2 std0,std1,std2]
// A file to try: python3 ../shared/bench/pytorch_seed.py train --n 3 --epochs 1 --threads 2 --workers 1 \
//   --data ../shared/cifar10/cifar-10-batches-bin --out /tmp/peer   (writes /tmp/peer/seed_resnet20.scripted.pt)
// Expected: the same test error PyTorch printed for that model (its JSON line's test_error), and a per-class table.
import { Cifar10, loadTorchScript } from '../lib/index';

async function main() {
  const [file, mean, std] = process.argv.slice(2);
  if (!file) throw new Error('usage: npx tsx examples/eval-torchscript.ts FILE.pt [mean0,mean1,mean2 std0,std1,std2]');
  const normalize = mean && std
    ? { kind: 'channel' as const, mean: mean.split(',').map(Number), std: std.split(',').map(Number) }
    : undefined; // default: CIFAR-10 per-channel mean/std, as torchvision-style scripts normalize
  const model = await loadTorchScript(file, { normalize });
  const test = await Cifar10.load(await Cifar10.locate(), { split: 'test' });
  const r = await model.evaluate(test);
  console.log(`${file} on ${model.device}: test error ${r.error.toFixed(2)} % (loss ${r.loss.toFixed(3)})`);
  for (const c of r.perClass) console.log(`  ${c.name.padEnd(11)} ${c.error.toFixed(1).padStart(5)} %`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
