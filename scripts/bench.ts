// npm run bench -- [--steps 30] [--threads N] [--depth 20] [--e2e-steps 80] [--peer PATH] [--rounds 1]
// The PyTorch peer (../shared/bench/pytorch_seed.py, run on the python3 torch this addon was built against) and
// resnet-cifar, one after the other on this machine, same model, batch 128 and thread count. Prints images/s for
// the model step alone (one fixed batch) and end to end (shuffle + pad/crop/flip + normalize + step), and ratios.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Cifar10, ResNet, Trainer, info, setNumThreads } from '../lib/index';

const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    'e2e-steps': { type: 'string', default: '80' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    depth: { type: 'string', default: '20' },
    peer: { type: 'string', default: path.join(__dirname, '../../shared/bench/pytorch_seed.py') },
    data: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const PYTHON = process.env.PYTHON ?? 'python3';
const steps = Number(a.steps);
const e2eSteps = Number(a['e2e-steps']);
const threads = Number(a.threads);
const depth = Number(a.depth);
const n = (depth - 2) / 6;
const BATCH = 128;

function peer(args: string[]): Record<string, number> {
  const out = execFileSync(PYTHON, [a.peer, ...args, '--n', String(n), '--threads', String(threads)], { encoding: 'utf8' });
  const last = out.trim().split('\n').pop()!;
  return JSON.parse(last);
}

async function oursStep(data: Cifar10): Promise<number> {
  const model = new ResNet({ depth, seed: 0, device: 'cpu' });
  // Same protocol as the peer's bench: 3 untimed steps, then `steps` timed ones on one fixed batch.
  const h = await new Trainer(model, { iterations: steps + 3 }).fit(data, { stepOnly: true, reportEvery: 1 });
  model.dispose();
  const timed = h.train.slice(3);
  const seconds = timed.reduce((s, p) => s + BATCH / p.imagesPerSecond, 0);
  return (timed.length * BATCH) / seconds;
}

async function oursEndToEnd(data: Cifar10): Promise<number> {
  const model = new ResNet({ depth, seed: 0, device: 'cpu' });
  const h = await new Trainer(model, { iterations: e2eSteps }).fit(data, { reportEvery: e2eSteps });
  model.dispose();
  return (e2eSteps * BATCH) / h.seconds; // everything from the start of fit: data order, augmentation, steps
}

async function main() {
  if (!fs.existsSync(a.peer)) throw new Error(`PyTorch peer not found at ${a.peer} (--peer PATH)`);
  const dataDir = await Cifar10.locate({ source: a.data ?? (fs.existsSync(path.join(__dirname, '../../shared/cifar10/cifar-10-batches-bin')) && !process.env.CIFAR10_DIR ? path.join(__dirname, '../../shared/cifar10/cifar-10-batches-bin') : undefined) });
  setNumThreads(threads);
  const torchPy = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  const lt = info().libtorch;
  console.log(`ResNet-${depth}, batch ${BATCH}, ${threads} threads, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`);
  console.log(`peer: ${path.relative(process.cwd(), a.peer)} on PyTorch ${torchPy}; ours: libtorch ${lt.version} (${lt.path})`);
  const train = await Cifar10.load(dataDir, { split: 'train' });
  const rows: { peerStep: number; oursStep: number; peerE2E: number; oursE2E: number }[] = [];
  const peerE2EArgs = ['train', '--epochs', String(e2eSteps / Math.ceil(50000 / BATCH)), '--workers', '1', '--data', dataDir];
  for (let r = 0; r < Number(a.rounds); r++) {
    // Each pair runs back to back, the order alternating by round, so a machine that slows down or speeds up
    // over minutes moves both sides of a ratio alike.
    const row = { peerStep: 0, oursStep: 0, peerE2E: 0, oursE2E: 0 };
    if (r % 2 === 0) {
      row.peerStep = peer(['bench', '--steps', String(steps)]).images_per_s;
      row.oursStep = await oursStep(train);
      row.peerE2E = peer(peerE2EArgs).images_per_s;
      row.oursE2E = await oursEndToEnd(train);
    } else {
      row.oursStep = await oursStep(train);
      row.peerStep = peer(['bench', '--steps', String(steps)]).images_per_s;
      row.oursE2E = await oursEndToEnd(train);
      row.peerE2E = peer(peerE2EArgs).images_per_s;
    }
    rows.push(row);
    console.log(`round ${r + 1}: step ${row.peerStep.toFixed(0)} vs ${row.oursStep.toFixed(0)} (${(row.oursStep / row.peerStep).toFixed(2)}x), ` +
      `end to end ${row.peerE2E.toFixed(0)} vs ${row.oursE2E.toFixed(0)} (${(row.oursE2E / row.peerE2E).toFixed(2)}x)`);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const m = {
    peerStep: median(rows.map((r) => r.peerStep)), oursStep: median(rows.map((r) => r.oursStep)),
    peerE2E: median(rows.map((r) => r.peerE2E)), oursE2E: median(rows.map((r) => r.oursE2E)),
  };
  const f = (x: number) => x.toFixed(0).padStart(9);
  console.log('');
  console.log('| images/s                         | PyTorch peer | resnet-cifar | ours / peer |');
  console.log('|----------------------------------|-------------:|-------------:|------------:|');
  console.log(`| model step only (fixed batch)    | ${f(m.peerStep)}    | ${f(m.oursStep)}    | ${(m.oursStep / m.peerStep).toFixed(2).padStart(9)}×  |`);
  console.log(`| end to end (data + augment + step) | ${f(m.peerE2E)}  | ${f(m.oursE2E)}    | ${(m.oursE2E / m.peerE2E).toFixed(2).padStart(9)}×  |`);
  console.log('');
  const ratio = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f)).toFixed(2);
  console.log(`median of the per-round ratios (each from back-to-back runs): step ${ratio((r) => r.oursStep / r.peerStep)}x, ` +
    `end to end ${ratio((r) => r.oursE2E / r.peerE2E)}x`);
  console.log(`ours end to end / ours step only: ${(m.oursE2E / m.oursStep).toFixed(3)} (1.0 = data work fully hidden)`);
  console.log(`step ${steps} timed steps after 3 warm-up; end to end ${e2eSteps} steps (peer: DataLoader, 1 worker); median of ${rows.length} round(s)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
