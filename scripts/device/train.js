#!/usr/bin/env node
'use strict';
// The paper's ResNet-20 run on the GPU machine, into a run folder written by lib/run/ (the CLI's own writer;
// no curves there: the chart packages do not travel):
// node scripts/device/train.js --device cuda --data DIR --out DIR [--iterations 64000] [--eval-every 4000]
//   [--checkpoint-every 8000] [--report-every 1000] [--seed 0] [--precision fp32]
// The recipe's defaults (lib/base/recipe.ts: lr 0.1, ÷10 at 50 % and 75 % of the iterations, momentum 0.9, weight
// decay 1e-4, batch 128, per-pixel mean), the 50k training images; test error on the 10k test images. Writes
// OUT/config.json, OUT/metrics.jsonl, OUT/checkpoint.pt (a second call with the same OUT resumes it) and, once
// finished, OUT/final.json (scripts/results/pretrained.ts makes it a pretrained network).
const fs = require('fs');
const { RECIPE, milestonesFor } = require('../../dist/base/recipe');
const { trainRun } = require('../../dist/run');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const data = opt('--data'), out = opt('--out');
const iterations = Number(opt('--iterations', String(RECIPE.iterations)));

(async () => {
  const config = {
    depth: 20, shortcut: 'A', seed: Number(opt('--seed', String(RECIPE.seed))), iterations,
    milestones: milestonesFor(iterations), lr: RECIPE.lr, batchSize: RECIPE.batchSize, holdout: 0,
    device: opt('--device', 'cuda'), evalEvery: Number(opt('--eval-every', '4000')),
    checkpointEvery: Number(opt('--checkpoint-every', '8000')), normalization: RECIPE.normalization,
    precision: opt('--precision', 'fp32'), worldSize: 1, cudaGraphs: true,
  };
  // The driver's deadline sends SIGINT: stop after the current iteration with a checkpoint (resumable).
  const stop = new AbortController();
  process.on('SIGINT', () => stop.abort());
  process.on('SIGTERM', () => stop.abort());
  const r = await trainRun({
    data, out, config, resume: fs.existsSync(out), signal: stop.signal, curves: false,
    reportEvery: Number(opt('--report-every', '1000')),
    onProgress: (e) => {
      if (e.kind === 'train') console.log(JSON.stringify({ kind: 'train', iteration: e.iteration, loss: e.loss, trainError: e.trainError, lr: e.lr, imagesPerSecond: e.imagesPerSecond, elapsed: e.elapsed }));
      if (e.kind === 'eval') console.log(JSON.stringify({ kind: 'eval', iteration: e.iteration, error: e.error, loss: e.loss }));
    },
  });
  if (r.final) console.log(JSON.stringify({ kind: 'final', ...r.final }));
  else console.log(JSON.stringify({ kind: 'stopped', iteration: r.history.iterations, checkpoint: r.history.checkpoint }));
})().catch((e) => { console.error(e); process.exit(1); });
