#!/usr/bin/env node
'use strict';
// One line of JSON: our training step's speed on a fixed synthetic batch (the model step alone), as the PyTorch
// peer's `bench` measures its own: node scripts/device/bench-ours.js --device cuda --depth 20 --precision fp32
// [--graphs on|off] (on CUDA the step is replayed as a CUDA graph unless off; the CPU has no graphs)
const { native } = require('../../dist/base/native');
const { ResNet, info } = require('../../dist/index');
const { EVAL_BATCH_SIZE, RECIPE } = require('../../dist/base/recipe');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const device = opt('--device', 'cuda'), depth = Number(opt('--depth', '20')), precision = opt('--precision', 'fp32');
const steps = Number(opt('--steps', '50'));
const graphs = opt('--graphs', 'on') === 'on';

(async () => {
  // 1,000 generated images: a step-only fit trains on the first batch, so the data only has to exist.
  const bytes = Buffer.alloc(10000 * 3073);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 3073 === 0 ? (i / 3073) % 10 : (i * 2654435761) >>> 24;
  const data = await native().Dataset.loadBatches([{ name: 'synthetic', data: bytes }]);
  const model = new ResNet({ depth, seed: 0, device });
  const o = {
    iterations: steps + 5, batchSize: RECIPE.batchSize, lr: RECIPE.lr, momentum: RECIPE.momentum, weightDecay: RECIPE.weightDecay,
    milestones: [], gamma: RECIPE.gamma,
    seed: 0, reportEvery: 5, evalBatchSize: EVAL_BATCH_SIZE, channelsLast: true, stepOnly: true, precision,
    cudaGraphs: graphs,
    normalization: { kind: 'channel', mean: Float32Array.of(0.5, 0.5, 0.5), std: Float32Array.of(0.25, 0.25, 0.25) },
  };
  const r = await native().fit(model.nativeModel, data, null, o, () => {}).promise;
  const timed = r.train.slice(1); // the first report holds the warm-up (and the graph's capture)
  const seconds = timed.reduce((s, p) => s + (5 * 128) / p.imagesPerSecond, 0);
  const ips = (timed.length * 5 * 128) / seconds;
  console.log(JSON.stringify({ ours: 'resnet-cifar', device, depth, precision,
    graphs: r.notes.some((n) => n.startsWith('CUDA graph')), images_per_s: ips,
    ms_per_step: 1000 * 128 / ips, libtorch: info().libtorch.version }));
})().catch((e) => { console.error(e); process.exit(1); });
