// npm run bench:distributed -- [--rounds 3] [--iterations 60] [--depth 20] [--data DIR] [--sync-bn]
// One process on every core against one process per core (data-parallel, c10d Gloo on 127.0.0.1), same global batch
// (128) and data: images/s of the training loop end to end (data, augmentation, step; the first report window,
// with its warm-up, left out). Each round runs both, the order alternating; --sync-bn adds one process per core
// with synchronized BatchNorm.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Cifar10, info } from '../../lib/index';

const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '60' },
    depth: { type: 'string', default: '20' },
    data: { type: 'string' },
    'sync-bn': { type: 'boolean', default: false },
  },
});
const ROOT = path.join(__dirname, '../..');
const cores = os.availableParallelism();

/** Images/s of one configuration: `procs` processes with cores / procs threads each, global batch 128. */
function run(procs: number, data: string, port: number, syncBatchNorm = false): Promise<number> {
  const batch = 128 / procs;
  const body = `const { Cifar10, ResNet, Trainer } = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    (async () => {
      const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'train' });
      const m = new ResNet({ depth: ${Number(a.depth)}, seed: 0, device: 'cpu' });
      const rank = Number(process.env.RANK);
      const h = await new Trainer(m, { iterations: ${Number(a.iterations)}, batchSize: ${batch},
        distributed: ${procs > 1 ? '{ rank, worldSize: ' + procs + ', masterPort: ' + port + ', syncBatchNorm: ' + syncBatchNorm + ' }' : 'undefined'} }).fit(data, { reportEvery: 10 });
      const w = h.train.slice(1);
      const seconds = w.reduce((s, p) => s + (10 * 128) / p.imagesPerSecond, 0); // each window: 10 global batches
      if (rank === 0) console.log(JSON.stringify({ ips: (w.length * 10 * 128) / seconds }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const children = Array.from({ length: procs }, (_, r) => new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import=tsx', '-e', body], {
      cwd: ROOT, env: { ...process.env, RANK: String(r), OMP_NUM_THREADS: String(Math.max(1, Math.floor(cores / procs))) },
    });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => process.stderr.write(d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${r} exited ${code}`))));
  }));
  return Promise.all(children).then((outs) => JSON.parse(outs[0].trim().split('\n').pop()!).ips);
}

async function main() {
  if (!info().distributed.includes('gloo')) throw new Error('this build has no distributed backend (libgloo-dev)');
  const data = await Cifar10.locate({ source: a.data ?? (fs.existsSync(path.join(ROOT, '../shared/cifar10/cifar-10-batches-bin')) ? path.join(ROOT, '../shared/cifar10/cifar-10-batches-bin') : undefined) });
  console.log(`ResNet-${a.depth}, global batch 128, ${a.iterations} iterations per run, ${os.cpus()[0]?.model ?? 'cpu'} x${cores}`);
  const rows: { one: number; many: number; sync?: number }[] = [];
  for (let r = 0; r < Number(a.rounds); r++) {
    const row: { one: number; many: number; sync?: number } = { one: 0, many: 0 };
    const runs: (() => Promise<void>)[] = [
      async () => { row.one = await run(1, data, 0); },
      async () => { row.many = await run(cores, data, 29650 + 2 * r); },
      ...(a['sync-bn'] ? [async () => { row.sync = await run(cores, data, 29651 + 2 * r, true); }] : []),
    ];
    for (const f of r % 2 === 0 ? runs : [...runs].reverse()) await f();
    rows.push(row);
    console.log(`round ${r + 1}: 1 process × ${cores} threads ${row.one.toFixed(0)} img/s, ${cores} processes × 1 thread ${row.many.toFixed(0)} img/s (${(row.many / row.one).toFixed(2)}x)` +
      (row.sync === undefined ? '' : `, with synchronized BatchNorm ${row.sync.toFixed(0)} img/s (${(row.sync / row.one).toFixed(2)}x)`));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const sync = a['sync-bn'];
  console.log('');
  console.log(`| images/s, end to end (median of ${rows.length})  | 1 process × ${cores} threads | ${cores} processes × 1 thread | ratio |${sync ? ' + sync BN | ratio |' : ''}`);
  console.log(`|---|---:|---:|---:|${sync ? '---:|---:|' : ''}`);
  console.log(`| ResNet-${a.depth}, global batch 128 | ${median(rows.map((r) => r.one)).toFixed(0)} | ${median(rows.map((r) => r.many)).toFixed(0)} | ${median(rows.map((r) => r.many / r.one)).toFixed(2)}× |` +
    (sync ? ` ${median(rows.map((r) => r.sync!)).toFixed(0)} | ${median(rows.map((r) => r.sync! / r.one)).toFixed(2)}× |` : ''));
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
