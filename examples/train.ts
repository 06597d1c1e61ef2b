// Data: real CIFAR-10 (binary version): --data DIR|FILE.tar.gz, else CIFAR10_DIR, else
//       ../shared/cifar10/cifar-10-batches-bin, else the download cache (--download fetches it).
// Command: npx tsx examples/train.ts --iterations 500 [--depth 20] [--out runs/example] [--resume]
// Expected: a progress line every 50 iterations (loss, train error, img/s, ETA), the test error every
// --eval-every iterations and at the end, and runs/example/checkpoint.pt. On 2 CPU cores, 500 iterations of
// ResNet-20 take about 2 minutes and end near 40-45 % test error; the paper's 64,000 iterations reach 8.75 %.
// Ctrl-C stops after the current iteration with a checkpoint; run again with --resume to continue.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Cifar10, ResNet, Trainer, info } from '../lib/index';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string' },
    download: { type: 'boolean', default: false },
    depth: { type: 'string', default: '20' },
    iterations: { type: 'string', default: '500' },
    'eval-every': { type: 'string', default: '250' },
    seed: { type: 'string', default: '0' },
    device: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'runs/example' },
    resume: { type: 'boolean', default: false },
  },
});

async function main() {
  const shared = path.join(__dirname, '../../shared/cifar10/cifar-10-batches-bin');
  const source = await Cifar10.locate({
    source: a.data ?? (process.env.CIFAR10_DIR || !fs.existsSync(shared) ? undefined : shared),
    download: a.download ? { onProgress: (p) => process.stdout.write(`\rdownloading ${(p.received / 2 ** 20).toFixed(0)} MiB`) } : false,
  });
  const train = await Cifar10.load(source, { split: 'train' });
  const test = await Cifar10.load(source, { split: 'test' });
  const iterations = Number(a.iterations);
  const model = new ResNet({ depth: Number(a.depth), device: a.device as 'auto', seed: Number(a.seed) });
  console.log(`ResNet-${model.config.depth} (${model.parameterCount.toLocaleString()} parameters) on ${model.device}, ` +
    `libtorch ${info().libtorch.version}; ${train.length} training images from ${source}`);
  // The paper's schedule scaled to the run: lr 0.1, divided by 10 at 50 % and 75 % of the iterations.
  const trainer = new Trainer(model, {
    iterations, milestones: [Math.round(iterations / 2), Math.round(iterations * 0.75)], seed: Number(a.seed),
  });
  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.log('\nstopping after this iteration (a checkpoint is written; --resume continues)');
    stop.abort();
  });
  const history = await trainer.fit(train, {
    eval: test,
    evalEvery: Number(a['eval-every']),
    reportEvery: 50,
    signal: stop.signal,
    checkpoint: { dir: a.out, every: 1000, resume: a.resume },
    onProgress: (e) => {
      if (e.kind === 'train') {
        console.log(`it ${String(e.iteration).padStart(6)}/${e.iterations}  lr ${e.lr.toPrecision(2)}  loss ${e.loss.toFixed(3)}  ` +
          `train err ${e.trainError.toFixed(1).padStart(5)} %  ${e.imagesPerSecond.toFixed(0)} img/s  ETA ${Math.round(e.eta)} s`);
      } else if (e.kind === 'eval') {
        console.log(`  test error ${e.error.toFixed(2)} % (loss ${e.loss.toFixed(3)}) at iteration ${e.iteration}`);
      }
    },
  });
  const last = history.eval[history.eval.length - 1];
  console.log(`${history.stopped} at iteration ${history.iterations} in ${history.seconds.toFixed(0)} s; ` +
    (last ? `test error ${last.error.toFixed(2)} %; ` : '') + `checkpoint ${history.checkpoint}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
