// npm run bench -- [--precision fp32|bf16] [--rounds 1] [--steps 30] [--e2e-steps 80] [--threads N] [--depth 20]
//                  [--peer PATH] [--data DIR]
// PyTorch and resnet-cifar on this machine, same model, batch 128 and thread count, side by side in each round.
//   fp32 (default): the PyTorch peer (../shared/bench/pytorch_seed.py, the seed's model and loop, on the python3
//     torch this addon was built against) against ours in float32.
//   bf16: PyTorch's bf16 configurations, autocast eager and autocast + torch.compile (its compile time reported
//     apart), both channels-last, against ours with precision 'bf16'; plus evaluation throughput (10,000 test
//     images) of ours in bf16 against PyTorch's bf16 inference (scripts/bench/peer_eval.py).
// Rows: the model step alone (one fixed batch) and end to end (shuffle + pad/crop/flip + normalize + step). Each
// round runs every configuration back to back, the order alternating by round, and prints its ratios; with
// --rounds N the table shows medians, and the medians of the per-round ratios are the robust figure on a machine
// whose speed drifts over minutes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Cifar10, ResNet, Trainer, info, setNumThreads, type Precision } from '../../lib/index';
import { EVAL_BATCH_SIZE } from '../../lib/base/recipe';

const { values: a } = parseArgs({
  options: {
    precision: { type: 'string', default: 'fp32' },
    steps: { type: 'string', default: '30' },
    'e2e-steps': { type: 'string', default: '80' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    depth: { type: 'string', default: '20' },
    peer: { type: 'string', default: path.join(__dirname, '../../../shared/bench/pytorch_seed.py') },
    data: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const PYTHON = process.env.PYTHON ?? 'python3';
const precision = a.precision as Precision;
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`--precision must be fp32 or bf16, got ${a.precision}`);
const steps = Number(a.steps);
const e2eSteps = Number(a['e2e-steps']);
const threads = Number(a.threads);
const depth = Number(a.depth);
const n = (depth - 2) / 6;
const BATCH = 128;

interface Peer { name: string; flags: string[] }
const PEERS: Peer[] = precision === 'fp32'
  ? [{ name: 'PyTorch peer', flags: [] }]
  : [{ name: 'PyTorch bf16 eager', flags: ['--channels-last', '--bf16'] },
    { name: 'PyTorch bf16 + compile', flags: ['--channels-last', '--bf16', '--compile'] }];

function python(file: string, args: string[]): Record<string, number> {
  const out = execFileSync(PYTHON, [file, ...args, '--n', String(n), '--threads', String(threads)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function oursStep(data: Cifar10): Promise<number> {
  const model = new ResNet({ depth, seed: 0, device: 'cpu' });
  // Same protocol as the peer's bench: 3 untimed steps, then `steps` timed ones on one fixed batch.
  const h = await new Trainer(model, { iterations: steps + 3, precision }).fit(data, { stepOnly: true, reportEvery: 1 });
  model.dispose();
  const timed = h.train.slice(3);
  const seconds = timed.reduce((s, p) => s + BATCH / p.imagesPerSecond, 0);
  return (timed.length * BATCH) / seconds;
}

async function oursEndToEnd(data: Cifar10): Promise<number> {
  const model = new ResNet({ depth, seed: 0, device: 'cpu' });
  const h = await new Trainer(model, { iterations: e2eSteps, precision }).fit(data, { reportEvery: e2eSteps });
  model.dispose();
  return (e2eSteps * BATCH) / h.seconds; // everything from the start of fit: data order, augmentation, steps
}

async function oursEval(test: Cifar10): Promise<number> {
  const model = new ResNet({ depth, seed: 0, device: 'cpu' });
  await model.evaluate(test, { precision }); // warm-up
  const t = performance.now();
  await model.evaluate(test, { precision, batchSize: EVAL_BATCH_SIZE });
  model.dispose();
  return test.length / ((performance.now() - t) / 1000);
}

type Row = Record<string, number>; // 'ours' and each peer's name -> images/s
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function main() {
  if (!fs.existsSync(a.peer)) throw new Error(`PyTorch peer not found at ${a.peer} (--peer PATH)`);
  const dataDir = await Cifar10.locate({ source: a.data ?? (fs.existsSync(path.join(__dirname, '../../../shared/cifar10/cifar-10-batches-bin')) && !process.env.CIFAR10_DIR ? path.join(__dirname, '../../../shared/cifar10/cifar-10-batches-bin') : undefined) });
  setNumThreads(threads);
  const torchPy = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  const i = info();
  console.log(`ResNet-${depth}, batch ${BATCH}, ${threads} threads, ${precision}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}` +
    ` (bf16 path: ${i.cpu.bf16})`);
  console.log(`peers: ${path.relative(process.cwd(), a.peer)} on PyTorch ${torchPy} (${PEERS.map((p) => p.name).join('; ')}); ` +
    `ours: libtorch ${i.libtorch.version} (${i.libtorch.path})`);
  const train = await Cifar10.load(dataDir, { split: 'train' });
  const test = await Cifar10.load(dataDir, { split: 'test' });
  const e2eArgs = ['train', '--epochs', String(e2eSteps / Math.ceil(50000 / BATCH)), '--workers', '1', '--data', dataDir];
  const rows: Record<'step' | 'e2e' | 'eval', Row[]> = { step: [], e2e: [], eval: [] };
  const compile: number[] = [];
  const measure = async (row: Row, runs: [string, () => Promise<number> | number][], order: number) => {
    const list = order % 2 === 0 ? runs : [...runs].reverse();
    for (const [name, run] of list) row[name] = await run();
  };
  for (let r = 0; r < Number(a.rounds); r++) {
    const step: Row = {}, e2e: Row = {}, ev: Row = {};
    const peerRun = (args: string[], p: Peer) => () => {
      const out = python(a.peer, [...args, ...p.flags]);
      if (p.flags.includes('--compile')) compile.push(out.warmup_s);
      return out.images_per_s;
    };
    await measure(step, [...PEERS.map((p): [string, () => number] => [p.name, peerRun(['bench', '--steps', String(steps)], p)]),
      ['ours', () => oursStep(train)]], r);
    await measure(e2e, [...PEERS.map((p): [string, () => number] => [p.name, peerRun(e2eArgs, p)]),
      ['ours', () => oursEndToEnd(train)]], r + 1);
    rows.step.push(step);
    rows.e2e.push(e2e);
    let evalText = '';
    if (precision === 'bf16') {
      await measure(ev, [['PyTorch bf16 eager', () => python(path.join(__dirname, 'peer_eval.py'),
        ['--peer', a.peer, '--data', dataDir, '--bf16', '--channels-last']).images_per_s], ['ours', () => oursEval(test)]], r);
      rows.eval.push(ev);
      evalText = `; evaluation ours ${ev.ours.toFixed(0)} vs PyTorch bf16 eager ${ev['PyTorch bf16 eager'].toFixed(0)} (${(ev.ours / ev['PyTorch bf16 eager']).toFixed(2)}x)`;
    }
    const vs = (row: Row) => PEERS.map((p) => `${p.name} ${row[p.name].toFixed(0)} (${(row.ours / row[p.name]).toFixed(2)}x)`).join(', ');
    console.log(`round ${r + 1}: step ours ${step.ours.toFixed(0)} vs ${vs(step)}; end to end ours ${e2e.ours.toFixed(0)} vs ${vs(e2e)}${evalText}`);
  }
  const f = (x: number) => x.toFixed(0).padStart(8);
  const table = (title: string, list: Row[], peers: string[]) => {
    const m = (k: string) => median(list.map((row) => row[k]));
    const ratio = (k: string) => median(list.map((row) => row.ours / row[k]));
    return `| ${title.padEnd(34)} | ${peers.map((p) => f(m(p))).join(' | ')} | ${f(m('ours'))} | ${peers.map((p) => `${ratio(p).toFixed(2)}×`.padStart(8)).join(' | ')} |`;
  };
  const names = PEERS.map((p) => p.name);
  console.log('');
  console.log(`| images/s (median of ${rows.step.length} round(s))${' '.repeat(8)} | ${names.join(' | ')} | resnet-cifar | ${names.map((p) => `ours / ${p}`).join(' | ')} |`);
  console.log(`|${'-'.repeat(36)}|${names.map(() => '---:|').join('')}---:|${names.map(() => '---:|').join('')}`);
  console.log(table('model step only (fixed batch)', rows.step, names));
  console.log(table('end to end (data + augment + step)', rows.e2e, names));
  if (precision === 'bf16') console.log(table('evaluation (10k test images)', rows.eval.map((row) => ({ ...row, 'PyTorch bf16 + compile': NaN })), names).replace(/NaN×?/g, '–'));
  console.log('');
  console.log('ratios are medians of the per-round ratios (each from back-to-back runs)');
  const oursE2E = median(rows.e2e.map((r) => r.ours)), oursStepM = median(rows.step.map((r) => r.ours));
  console.log(`ours end to end / ours step only: ${(oursE2E / oursStepM).toFixed(3)} (1.0 = data work fully hidden)`);
  if (compile.length) console.log(`torch.compile time before the timed steps (not counted above): median ${median(compile).toFixed(1)} s over ${compile.length} compiles`);
  console.log(`step: ${steps} timed steps after 3 warm-up; end to end: ${e2eSteps} steps (peers: DataLoader, 1 worker)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
