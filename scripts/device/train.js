#!/usr/bin/env node
'use strict';
// The paper's ResNet-20 run on the GPU machine (no plots there: the CLI's charts need packages that do not travel):
// node scripts/device/train.js --device cuda --data DIR --out DIR [--iterations 64000] [--eval-every 4000]
//   [--checkpoint-every 8000] [--seed 0] [--precision fp32]
// lr 0.1, ÷10 at 50 % and 75 % of the iterations, momentum 0.9, weight decay 1e-4, batch 128, per-pixel mean, the
// 50k training images; test error on the 10k test images. Writes OUT/metrics.jsonl, OUT/checkpoint.pt (resumable:
// a second call with the same OUT continues it), OUT/config.json and OUT/final.json (a finished run becomes a
// pretrained network with scripts/pretrained.ts).
const fs = require('fs');
const path = require('path');
const { Cifar10, ResNet, Trainer, info } = require('../../dist/index');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const device = opt('--device', 'cuda'), data = opt('--data'), out = opt('--out');
const iterations = Number(opt('--iterations', '64000'));
const seed = Number(opt('--seed', '0'));
const precision = opt('--precision', 'fp32');

(async () => {
  fs.mkdirSync(out, { recursive: true });
  const train = await Cifar10.load(data, { split: 'train' });
  const test = await Cifar10.load(data, { split: 'test' });
  const model = new ResNet({ depth: 20, seed, device });
  const metrics = fs.openSync(path.join(out, 'metrics.jsonl'), 'a');
  const line = (o) => { const s = JSON.stringify(o); fs.writeSync(metrics, s + '\n'); console.log(s); };
  const milestones = [Math.round(iterations / 2), Math.round(iterations * 0.75)];
  // The driver's deadline sends SIGINT: stop after the current iteration with a checkpoint (resumable).
  const stop = new AbortController();
  process.on('SIGINT', () => stop.abort());
  process.on('SIGTERM', () => stop.abort());
  const trainer = new Trainer(model, { iterations, milestones, seed, precision });
  // The run's settings as the CLI's run folders keep them (scripts/pretrained.ts reads them).
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ depth: 20, shortcut: 'A', holdout: 0, worldSize: 1,
    device: model.device, ...trainer.options }, null, 2) + '\n');
  const h = await trainer.fit(train, {
    signal: stop.signal,
    eval: test, evalEvery: Number(opt('--eval-every', '4000')), reportEvery: Number(opt('--report-every', '1000')),
    checkpoint: { dir: out, every: Number(opt('--checkpoint-every', '8000')), resume: true },
    onProgress: (e) => {
      if (e.kind === 'train') line({ kind: 'train', iteration: e.iteration, loss: e.loss, trainError: e.trainError, lr: e.lr, imagesPerSecond: e.imagesPerSecond, elapsed: e.elapsed });
      if (e.kind === 'eval') line({ kind: 'eval', iteration: e.iteration, error: e.error, loss: e.loss });
    },
  });
  // Training alone (evaluations and checkpoints excluded): each report window's iterations at its images/s.
  let trainingSeconds = 0;
  h.train.forEach((p, i) => {
    const from = i === 0 ? h.startIteration : h.train[i - 1].iteration;
    if (p.iteration > from && p.imagesPerSecond > 0) trainingSeconds += ((p.iteration - from) * 128) / p.imagesPerSecond;
  });
  const final = {
    depth: 20, seed, device: model.device, precision, iterations: h.iterations, startIteration: h.startIteration,
    stopped: h.stopped, seconds: h.seconds, trainingSeconds, testError: h.eval.at(-1)?.error, notes: h.notes,
    libtorch: info().libtorch.version, gpu: info().cuda,
  };
  fs.writeFileSync(path.join(out, 'final.json'), JSON.stringify(final, null, 2) + '\n');
  console.log(JSON.stringify({ kind: 'final', ...final }));
})().catch((e) => { console.error(e); process.exit(1); });
