// Data: real CIFAR-10 from CIFAR10_DIR (or the download cache); the paper's 45k/5k split via holdout.
// Command: npx tsx examples/custom-loop.ts [seconds=60]
// Expected: ResNet-20 trains until the time budget runs out or the validation error drops under 50 %, whichever
// comes first, then stops (AbortController), keeps a checkpoint, and a second fit resumes it for 100 more
// iterations. Progress lines show iteration, loss and images/s; the event loop stays free throughout.
import { Cifar10, ResNet, Trainer } from '../lib/index';

async function main() {
  const budget = Number(process.argv[2] ?? 60) * 1000;
  const train = await Cifar10.load(await Cifar10.locate(), { split: 'train', holdout: 5000 });
  const model = new ResNet({ depth: 20, seed: 1 });
  const trainer = new Trainer(model, { iterations: 64_000, seed: 1 });
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), budget);
  const first = await trainer.fit(train, {
    eval: train.validation, evalEvery: 100, reportEvery: 20, signal: stop.signal,
    checkpoint: { dir: 'runs/custom-loop' },
    onProgress: (e) => {
      if (e.kind === 'train') console.log(`it ${e.iteration} loss ${e.loss.toFixed(3)} ${e.imagesPerSecond.toFixed(0)} img/s`);
      if (e.kind === 'eval') {
        console.log(`  validation error ${e.error.toFixed(2)} %`);
        if (e.error < 50) stop.abort(); // our own stopping rule
      }
    },
  });
  clearTimeout(timer);
  console.log(`${first.stopped} at ${first.iterations}; checkpoint ${first.checkpoint}`);
  // Continue exactly where it stopped (weights, momentum, data order), for 100 more iterations.
  const more = new Trainer(new ResNet({ depth: 20 }), { iterations: first.iterations + 100, seed: 1 });
  const second = await more.fit(train, { checkpoint: { dir: 'runs/custom-loop', resume: true }, reportEvery: 50 });
  console.log(`resumed from ${second.startIteration} to ${second.iterations}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
