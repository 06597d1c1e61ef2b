#!/usr/bin/env node
'use strict';
// What a GPU run brought back (the driver's $OUT: build.log, checks.json, bench.jsonl, r20/final.json,
// r20/metrics.jsonl), as docs/results/gpu.md: device, the commands, the checks, the speed tables with ratios, the
// training result against issue 10's targets, and the raw JSON.
//   node scripts/device/report.js FOLDER [--out docs/results/gpu.md]   (without --out: to stdout)
// Several folders (one per call) may be given; later ones add what earlier ones lack.
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outFile = outAt >= 0 ? args[outAt + 1] : null;
const folders = args.filter((a, i) => a !== '--out' && (outAt < 0 || i !== outAt + 1));
if (!folders.length) {
  console.error('usage: node scripts/device/report.js FOLDER [FOLDER ...] [--out FILE]');
  process.exit(2);
}

const read = (rel) => {
  for (const f of [...folders].reverse()) {
    const p = path.join(f, rel);
    if (fs.existsSync(p)) return fs.readFileSync(p, 'utf8');
  }
  return null;
};
const json = (rel) => { const t = read(rel); return t ? JSON.parse(t) : null; };
const lines = (rel) => (read(rel) ?? '').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));

const checks = json('checks.json');
const bench = lines('bench.jsonl');
const final = json('r20/final.json');
const metrics = lines('r20/metrics.jsonl');
const buildLog = read('build.log') ?? '';
const gpu = (/^gpu: (.*)$/m.exec(buildLog) ?? [])[1]?.trim() || 'not recorded';

const fmt = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const out = [];
const say = (s = '') => out.push(s);

say('# resnet-cifar on the GPU machine');
say();
say(`GPU: ${gpu}. ours: libtorch ${checks?.info?.libtorch?.version ?? bench.find((b) => b.libtorch)?.libtorch ?? '?'}` +
  `${checks?.info?.cuda ? `, cuDNN ${checks.info.cuda.cudnn ? 'yes' : 'no'}, ${checks.info.cuda.deviceCount} device(s)` : ''}` +
  `; peer: PyTorch ${bench.find((b) => b.peer)?.torch ?? '?'}.`);
say('Commands: `bash scripts/device/driver.sh setup bench` (carrying `.device/base`), `data 1 check`, `data 2`,');
say('`data 3 train` (carrying `.device/data/N`); this page: `node scripts/device/report.js <returned folders> --out docs/results/gpu.md`.');

say();
say('## Correctness (TF32 off)');
say();
if (checks) {
  say('| check | result | figures |');
  say('|---|---|---|');
  for (const c of checks.checks) {
    const { name, ok, ...rest } = c;
    say(`| ${name} | ${ok ? 'ok' : '**FAILED**'} | ${Object.entries(rest).filter(([k]) => k !== 'notes').map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(3)) : JSON.stringify(v)}`).join(', ')} |`);
  }
} else {
  say('No checks.json came back.');
}

say();
say('## Speed: the training step on a fixed batch of 128 (images/s)');
say();
if (bench.length) {
  const depths = [...new Set(bench.map((b) => b.depth ?? 6 * b.n + 2))].sort((a, b) => a - b);
  say('| ResNet | configuration | images/s | ms/step | × PyTorch eager | × PyTorch bf16 + compile (CUDA graphs) |');
  say('|---:|---|---:|---:|---:|---:|');
  for (const depth of depths) {
    const here = bench.filter((b) => (b.depth ?? 6 * b.n + 2) === depth);
    const eager = here.find((b) => b.peer && !b.compile && !b.bf16);
    const compiled = here.find((b) => b.peer && b.compile);
    const name = (b) => b.peer
      ? `PyTorch ${b.bf16 ? 'bf16' : 'fp32'}${b.compile ? ` + compile (${b.compile_mode ?? 'default'})` : ' eager'}${b.channels_last ? ', channels-last' : ''}`
      : `ours ${b.precision}, ${b.graphs ? 'CUDA graph' : 'eager'}`;
    for (const b of here) {
      say(`| ${depth} | ${name(b)} | ${fmt(b.images_per_s)} | ${fmt(b.ms_per_step, 2)} | ${eager ? fmt(b.images_per_s / eager.images_per_s, 2) + '×' : '–'} | ${compiled ? fmt(b.images_per_s / compiled.images_per_s, 2) + '×' : '–'} |`);
    }
  }
} else {
  say('No bench.jsonl came back.');
}

say();
say('## The paper\'s ResNet-20 (64,000 iterations, lr 0.1 ÷10 at 32k and 48k, batch 128, per-pixel mean, 50k images)');
say();
if (final) {
  say(`Iterations ${final.iterations} (this start began at ${final.startIteration}), ${final.precision}, seed ${final.seed}, on ${final.device}.`);
  say(`Test error **${fmt(final.testError, 2)} %** (paper: 8.75 %); training ${fmt(final.trainingSeconds, 1)} s over the run (this start's ` +
    `fit with evaluations and checkpoints: ${fmt(final.seconds, 1)} s). Notes: ${final.notes?.length ? final.notes.join('; ') : 'none'}.`);
  const evals = metrics.filter((m) => m.kind === 'eval');
  if (evals.length) {
    say();
    say('| iteration | test error % | test loss |');
    say('|---:|---:|---:|');
    for (const e of evals) say(`| ${e.iteration} | ${fmt(e.error, 2)} | ${fmt(e.loss, 4)} |`);
  }
} else {
  const last = metrics.filter((m) => m.kind === 'eval').at(-1);
  say(`No r20/final.json came back (the run did not finish${last ? `; last evaluation at ${last.iteration}: ${fmt(last.error, 2)} %` : ''}).`);
}

say();
say('## Targets (issue 10)');
say();
const r20 = bench.filter((b) => (b.depth ?? 6 * b.n + 2) === 20);
const peerEager = r20.find((b) => b.peer && !b.compile && !b.bf16);
const oursGraph = r20.filter((b) => !b.peer && b.graphs).sort((a, b) => b.images_per_s - a.images_per_s)[0];
const ratio = peerEager && oursGraph ? oursGraph.images_per_s / peerEager.images_per_s : NaN;
say(`- ResNet-20 with graphs ≥ 2× the PyTorch eager peer: ${fmt(ratio, 2)}× (ours ${oursGraph ? `${oursGraph.precision}` : '–'}) — ${Number.isNaN(ratio) ? 'not measured' : ratio >= 2 ? 'met' : 'not met'}`);
const t = final?.trainingSeconds;
say(`- 64,000 iterations in ≤ 3 minutes: ${fmt(t, 1)} s — ${final && final.iterations >= 64000 && final.startIteration === 0 ? (t <= 180 ? 'met' : 'not met') : 'not measured in one run'}`);
say(`- test error ≤ 8.75 %: ${fmt(final?.testError, 2)} % — ${final && final.iterations >= 64000 ? (final.testError <= 8.75 ? 'met' : 'not met') : 'not measured'}`);

say();
say('## Raw');
say();
say('```json');
for (const b of bench) say(JSON.stringify(b));
if (checks) say(JSON.stringify({ checks: checks.checks, seconds: checks.seconds, passed: checks.passed }));
if (final) say(JSON.stringify(final));
say('```');

const text = out.join('\n') + '\n';
if (outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, text);
  console.log(`wrote ${outFile}`);
} else {
  process.stdout.write(text);
}
