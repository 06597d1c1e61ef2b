// Data: real CIFAR-10 (binary version) from CIFAR10_DIR or the download cache (fetched on first use).
// Command: npx tsx examples/train-resnet20.ts
// Expected: the paper's ResNet-20 recipe (section 4.2): 64k iterations, batch 128, lr 0.1 ÷10 at 32k and 48k,
// momentum 0.9, weight decay 1e-4, per-pixel mean, pad-4 crop + flip; the paper reports 8.75 % test error.
// A GPU does it in minutes; 2 CPU cores need about 4 hours (interrupt and rerun: it resumes from runs/resnet20).
import { Cifar10, ResNet, Trainer } from '../lib/index';

async function main() {
  const source = await Cifar10.locate({ download: true });
  const [train, test] = await Promise.all([Cifar10.load(source, { split: 'train' }), Cifar10.load(source, { split: 'test' })]);
  const model = new ResNet({ depth: 20 });
  const history = await new Trainer(model).fit(train, {
    eval: test,
    evalEvery: 2000,
    checkpoint: { dir: 'runs/resnet20', every: 2000, resume: true },
    onProgress: (e) => {
      if (e.kind === 'train' && e.iteration % 500 === 0) console.log(`${e.iteration} loss ${e.loss.toFixed(3)} lr ${e.lr}`);
      if (e.kind === 'eval') console.log(`${e.iteration} test error ${e.error.toFixed(2)} %`);
    },
  });
  console.log(`final test error ${history.eval.at(-1)?.error.toFixed(2)} % (paper: 8.75 %)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
