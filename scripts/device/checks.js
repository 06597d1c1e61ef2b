#!/usr/bin/env node
'use strict';
// The GPU correctness checks (TF32 off: precision 'fp32' means fp32), run by driver.sh with the compiled package:
//   node scripts/device/checks.js --device cuda --data DIR --out FILE.json
// 1. forward logits on the device vs the CPU build (relative error < 1e-4)
// 2. one SGD step on the device vs the CPU, from the same weights and batch (< 1e-4)
// 3. the augmented batch built on the device equals the CPU's for the same (seed, iteration)
// 4. a checkpoint trained on the device evaluates on the CPU to the same error (±0.02 points), and the reverse
// 5. CUDA graph replays train like eager steps (85 iterations across an epoch's end, whose smaller batch runs
//    eagerly): weights within 1e-3 relative, or within 10x of what two eager runs differ by
// 6. a one-rank data-parallel run (NCCL on CUDA where the build has it, else Gloo) trains like a plain eager run
// With --device cpu (the dry run) every comparison is CPU against CPU: it checks the script, not a GPU.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Cifar10, ResNet, Trainer, info } = require('../../dist/index');
const { readCheckpointTensors } = require('../../dist/io/checkpoint');
const { native } = require('../../dist/base/native');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const DEVICE = opt('--device', 'cuda');
const DATA = opt('--data');
const OUT = opt('--out');

function rel(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

async function main() {
  const t0 = Date.now();
  const results = { device: DEVICE, info: info(), checks: [] };
  const check = (name, ok, detail) => {
    results.checks.push({ name, ok, ...detail });
    console.log(`${ok ? 'ok' : 'FAIL'}  ${name}  ${JSON.stringify(detail)}`);
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-checks-'));
  const data = await Cifar10.load(DATA, { split: 'test' });

  // 1. Forward logits.
  const cpu = new ResNet({ depth: 20, seed: 1, device: 'cpu' });
  cpu.train();
  for (let i = 0; i < 3; i++) await cpu.predict(new Float32Array(16 * 3072).map((_, j) => Math.sin(i + j / 7)));
  cpu.eval();
  const file = path.join(tmp, 'init.pt');
  await cpu.save(file);
  const dev = await ResNet.load(file, { device: DEVICE });
  const x = new Float32Array(64 * 3072).map((_, j) => Math.cos(j / 3));
  const [lc, ld] = await Promise.all([cpu.predict(x), dev.predict(x)]);
  const e1 = rel(ld, lc);
  check('forward logits vs the CPU', e1 < 1e-4, { relative_error: e1 });

  // 2. One SGD step from the same weights and batch.
  const step = async (device) => {
    const m = await ResNet.load(file, { device });
    const dir = path.join(tmp, `step-${device}`);
    await new Trainer(m, { iterations: 1, seed: 3, milestones: [], fusedBatchNorm: false }).fit(data, { checkpoint: { dir } });
    return readCheckpointTensors(path.join(dir, 'checkpoint.pt'));
  };
  const [sc, sd] = [await step('cpu'), await step(DEVICE)];
  let worst = 0;
  for (const k of Object.keys(sc.momentum)) worst = Math.max(worst, rel(sd.stateDict[k], sc.stateDict[k]));
  check('one SGD step vs the CPU (worst parameter)', worst < 1e-4, { relative_error: worst });

  // 3. The augmented batch built on the device.
  const o = {
    iterations: 10, batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 1e-4, milestones: [], gamma: 0.1,
    seed: 8, reportEvery: 1,
    evalBatchSize: 100, channelsLast: true,
    normalization: 'pixel',
  };
  const bc = await native().trainingBatch(data.nativeDataset, o, 5, 'cpu');
  const bd = await native().trainingBatch(data.nativeDataset, o, 5, DEVICE);
  const same = Buffer.from(bc.index.buffer).equals(Buffer.from(bd.index.buffer)) && Buffer.from(bc.flip.buffer).equals(Buffer.from(bd.flip.buffer));
  const e3 = rel(bd.input, bc.input);
  check('augmented batch on the device vs the CPU', same && e3 < 1e-6, { same_draw: same, relative_error: e3 });

  // 4. Checkpoints across devices.
  const cross = async (from, to) => {
    const m = new ResNet({ depth: 20, seed: 4, device: from });
    const dir = path.join(tmp, `cross-${from}`);
    await new Trainer(m, { iterations: 50, batchSize: 64 }).fit(data, { checkpoint: { dir } });
    const a = await m.evaluate(data);
    const b = await (await ResNet.load(path.join(dir, 'checkpoint.pt'), { device: to })).evaluate(data);
    return { trained_on: from, error_there: a.error, error_here: b.error, diff: Math.abs(a.error - b.error) };
  };
  for (const [from, to] of [[DEVICE, 'cpu'], ['cpu', DEVICE]]) {
    const r = await cross(from, to);
    check(`checkpoint trained on ${from} evaluates on ${to} alike`, r.diff <= 0.02, r);
  }
  // 5. CUDA graphs against eager steps. trainRun: the saved weights trained on the device with these options, and
  // the history.
  const trainRun = async (tag, options) => {
    const m = await ResNet.load(file, { device: DEVICE });
    const dir = path.join(tmp, tag);
    const h = await new Trainer(m, { seed: 5, ...options }).fit(data, { checkpoint: { dir } });
    return { h, w: await readCheckpointTensors(path.join(dir, 'checkpoint.pt')) };
  };
  const worstRel = (a, b) => Math.max(...Object.keys(a.w.momentum).map((k) => rel(a.w.stateDict[k], b.w.stateDict[k])));
  const graphRun = (cudaGraphs, tag) => trainRun(`graphs-${tag}`, { iterations: 85, milestones: [60], cudaGraphs });
  const g = await graphRun(true, 'on'), e1r = await graphRun(false, 'off1'), e2r = await graphRun(false, 'off2');
  const vsEager = worstRel(g, e1r), eagerNoise = worstRel(e2r, e1r);
  const captured = g.h.notes.some((n) => n.startsWith('CUDA graph'));
  const graphOk = (DEVICE === 'cpu' ? !captured : captured) && vsEager <= Math.max(1e-3, 10 * eagerNoise);
  check('CUDA graph replays vs eager steps (worst parameter after 85 iterations)', graphOk,
    { captured, relative_error: vsEager, eager_vs_eager: eagerNoise, notes: g.h.notes });
  // 6. c10d on this device: one rank, so the collectives run but change nothing.
  const backends = info().distributed;
  if (backends.length) {
    const ranked = await trainRun('one-rank', { iterations: 20, milestones: [], distributed: { rank: 0, worldSize: 1, masterPort: 29531 } });
    const plain = await trainRun('plain-20', { iterations: 20, milestones: [], cudaGraphs: false });
    const d = worstRel(ranked, plain);
    const backend = DEVICE.startsWith('cuda') && backends.includes('nccl') ? 'nccl' : 'gloo';
    check(`one-rank data-parallel run (${backend}) vs a plain run, 20 iterations`, d <= Math.max(1e-3, 10 * eagerNoise),
      { backends, relative_error: d, eager_vs_eager: eagerNoise });
  } else {
    check('data-parallel backends in this build', false, { backends });
  }
  results.seconds = (Date.now() - t0) / 1000;
  results.passed = results.checks.every((c) => c.ok);
  if (OUT) fs.writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  console.log(`${results.checks.filter((c) => c.ok).length}/${results.checks.length} checks passed in ${results.seconds.toFixed(0)} s`);
  process.exitCode = results.passed ? 0 : 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
