// Data-parallel training on c10d's Gloo backend, over processes on 127.0.0.1: equivalence with PyTorch's own
// DistributedDataParallel, the shards, faults (a rank killed mid-run or hung, a port in use, ranks that disagree or
// never come), the CLI's launcher and torchrun's. Every wait is bounded.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { Cifar10, ResNet, Trainer, info, readCheckpointMeta } from '../lib/index';
import { anyCifarDir, type Finished, launch, maxWeightDiff, PYTHON, requires, ROOT, tmpDir, withPython } from './helpers';

const execFileAsync = promisify(execFile);
let nextPort = 29700 + (process.pid % 200) * 5;
const port = () => nextPort++;

/**
 * One rank: a Node process running `body` (TypeScript, with Cifar10, ResNet, Trainer, RANK and beat in scope). A body
 * passes `beat` as (or calls it from) its fit's onProgress: a rank is taken for hung, and killed, only after 90 s
 * without a progress report, however slowly the CPU (emulated bf16) or the suite's load lets it train.
 */
function startRank(r: number, body: string, env: Record<string, string> = {}) {
  const script = `const { Cifar10, ResNet, Trainer } = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    const RANK = ${r};
    const beat = () => require('node:fs').writeSync(3, '.');
    (async () => { ${body} })().catch((e) => { console.error('ERROR ' + e.message); process.exit(3); });`;
  return launch(process.execPath, ['--import=tsx', '-e', script], { ...process.env, OMP_NUM_THREADS: '1', ...env }, { silentMs: 90_000 });
}
const rank = (r: number, body: string, env: Record<string, string> = {}): Promise<Finished> => startRank(r, body, env).done;
/**
 * The backstop for a hung CLI launcher (a worker of another machine's launcher prints nothing to beat with): this
 * file's tests run together, a dozen processes on the machine's cores, so a 20-iteration run can take two minutes
 * under that load on a slow CPU. A bound on hangs, not on speed.
 */
const CLI_BACKSTOP_MS = 600_000;

test.before((t) => {
  if (info().distributed.length === 0) {
    if (process.env.CI) throw new Error('CI builds with libgloo-dev: info().distributed must list gloo');
    t.log('these tests need a build with c10d Gloo (libgloo-dev)');
  }
});

const glooTest = requires(info().distributed.includes('gloo'), 'c10d Gloo in this build', 'apt-get install libgloo-dev, then npm run build:native');

glooTest('each rank trains on its own shard of every epoch: disjoint, equal-sized, together the padded permutation', async (t) => {
  const data = (await Cifar10.load(anyCifarDir(t), { split: 'train', holdout: 1001 })).validation!;
  const m = new ResNet({ depth: 8, device: 'cpu' });
  const shard = (rank: number) => new Trainer(m, { batchSize: 100, seed: 4, distributed: { rank, worldSize: 3 } });
  const seen = new Map<number, number>();
  for (let it = 0; it < 4; it++) { // 1001 images over 3 ranks: 334 each (two repeated), batches 100, 100, 100, 34
    const b = await Promise.all([0, 1, 2].map((r) => shard(r).trainingBatch(data, it)));
    t.deepEqual(b.map((x) => x.index.length), it < 3 ? [100, 100, 100] : [34, 34, 34]);
    for (const x of b) for (const i of x.index) seen.set(i, (seen.get(i) ?? 0) + 1);
    t.notDeepEqual(b[0].flip, b[1].flip, 'each rank draws its own augmentation');
  }
  t.is(seen.size, 1001);
  t.is([...seen.values()].reduce((a, c) => a + c, 0), 1002);
});

/**
 * Ours: 2 ranks × batch 64 for 3 steps from saved weights; theirs (test/python/ddp.py): PyTorch DDP on the same
 * batches, or with syncBatchNorm one process on each step's two batches together (what synchronized BN equals).
 */
async function againstPyTorch(t: ExecutionContext, o: { depth: number; shortcut: 'A' | 'B'; syncBatchNorm: boolean; fused?: boolean }) {
  const data = anyCifarDir(t);
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  await new ResNet({ depth: o.depth, shortcut: o.shortcut, seed: 11, device: 'cpu' }).save(f('before.pt'));
  const options = (rank: number, masterPort = 0) => ({ iterations: 3, batchSize: 64, seed: 5, milestones: [], fusedBatchNorm: o.fused === true,
    distributed: { rank, worldSize: 2, masterPort: masterPort || 1, syncBatchNorm: o.syncBatchNorm } });
  const train = await Cifar10.load(data, { split: 'test' });
  const model = await ResNet.load(f('before.pt'), { device: 'cpu' });
  const prefixes: string[][] = [[], []];
  for (const r of [0, 1]) {
    for (let it = 0; it < 3; it++) {
      const b = await new Trainer(model, options(r)).trainingBatch(train, it);
      const p = f(`r${r}-${it}`);
      fs.writeFileSync(p + '.x', Buffer.from(b.input.buffer, b.input.byteOffset, b.input.byteLength));
      fs.writeFileSync(p + '.y', Buffer.from(b.labels.buffer, b.labels.byteOffset, b.labels.byteLength));
      prefixes[r].push(p);
    }
  }
  const p = port();
  const body = `const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'test' });
    const m = await ResNet.load(${JSON.stringify(f('before.pt'))}, { device: 'cpu' });
    const o = ${JSON.stringify(options(0, p))}; o.distributed.rank = RANK;
    const h = await new Trainer(m, o).fit(data, { checkpoint: { dir: ${JSON.stringify(f('ours'))} }, reportEvery: 1, onProgress: beat });
    console.log(JSON.stringify({ iterations: h.iterations, checkpoint: h.checkpoint }));`;
  const [r0, r1] = await Promise.all([rank(0, body), rank(1, body)]);
  t.is(r0.code, 0, r0.stderr);
  t.is(r1.code, 0, r1.stderr);
  t.is(JSON.parse(r0.stdout).checkpoint, path.join(f('ours'), 'checkpoint.pt'));
  t.is(JSON.parse(r1.stdout).checkpoint, null, 'rank 1 writes no checkpoint');
  const { stdout } = await execFileAsync(PYTHON, [path.join(ROOT, 'test/python/ddp.py'), '--ckpt', f('before.pt'),
    '--after', path.join(f('ours'), 'checkpoint.pt'), '--batches', prefixes.map((x) => x.join(',')).join(';'), '--port', String(port()),
    ...(o.syncBatchNorm ? ['--global-batch'] : [])], { encoding: 'utf8' });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);
  t.log(`ResNet-${o.depth} ${o.shortcut}${o.fused ? ' (fused kernels)' : ''} vs PyTorch ${o.syncBatchNorm ? 'on the global batch of 128' : 'DDP'}: relative error ${out.rel.toExponential(2)} (worst tensor ${out.worst}: ${out.worstRel.toExponential(2)}; weights moved ${out.moved.toFixed(3)})`);
  t.true(out.moved > 1e-3);
  if (!o.syncBatchNorm) {
    t.true(out.rel < 1e-5, `relative error ${out.rel}`);
    return;
  }
  // Our sums are ordered otherwise than PyTorch's BatchNorm kernel: float32 rounding differs, and three steps amplify
  // it (as they amplify PyTorch's own float32 against float64). Both must be as close to the float64 truth.
  t.log(`vs float64 on the global batch: ours ${out.oursVsF64.toExponential(2)}, PyTorch float32 ${out.torchVsF64.toExponential(2)}`);
  t.true(out.rel < 5e-3, `relative error ${out.rel}`);
  t.true(out.oursVsF64 < 2 * out.torchVsF64 + 1e-6, `ours ${out.oursVsF64} vs PyTorch float32 ${out.torchVsF64} against float64`);
}

withPython([], glooTest)('2 ranks × batch 64 give the weights PyTorch DistributedDataParallel (Gloo) gives from the same start and batches', async (t) => {
  await againstPyTorch(t, { depth: 20, shortcut: 'A', syncBatchNorm: false });
});

withPython([], glooTest)('syncBatchNorm: 2 ranks × batch 64 give the weights and BN statistics of one process on the global batch of 128', async (t) => {
  await againstPyTorch(t, { depth: 20, shortcut: 'A', syncBatchNorm: true, fused: true }); // the fused kernels' sync
  await againstPyTorch(t, { depth: 8, shortcut: 'B', syncBatchNorm: true, fused: true }); // + the projections' (libtorch ops)
  await againstPyTorch(t, { depth: 8, shortcut: 'A', syncBatchNorm: true, fused: false }); // libtorch ops throughout
});

glooTest('bf16 and the warm-up work per rank: the ranks agree on every report, lr and the warm-up\'s end', async (t) => {
  const data = anyCifarDir(t);
  const p = port();
  const body = `const data = (await Cifar10.load(${JSON.stringify(data)}, { split: 'train', holdout: 2000 })).validation;
    const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
    const h = await new Trainer(m, { iterations: 40, batchSize: 32, seed: 2, precision: 'bf16', warmup: { lr: 0.01, untilError: 86 },
      distributed: { rank: RANK, worldSize: 2, masterPort: ${p} } }).fit(data, { reportEvery: 2, onProgress: beat });
    console.log(JSON.stringify(h.train.map((r) => [r.lr, r.loss, r.trainError])));`;
  const [a, b] = await Promise.all([rank(0, body), rank(1, body)]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)] as number[][][];
  t.deepEqual(ra, rb);
  t.log(`bf16 path on this CPU: ${info().cpu.bf16}; lr and train error per report: ${ra.map((r) => `${r[0]} ${r[2].toFixed(1)}`).join(', ')}`);
  // The warm-up ends for both together, on the error over both ranks' images.
  t.is(ra[0][0], 0.01);
  t.is(ra[ra.length - 1][0], 0.1);
});

glooTest('a rank killed mid-run fails the others within the timeout, naming it; the checkpoint is intact and resumes', async (t) => {
  const data = anyCifarDir(t);
  const dir = tmpDir();
  const run = (masterPort: number, killAt: number) => `const data = (await Cifar10.load(${JSON.stringify(data)}, { split: 'train', holdout: 2000 })).validation;
    const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
    const h = await new Trainer(m, { iterations: 60, batchSize: 16, seed: 2, distributed: { rank: RANK, worldSize: 2, masterPort: ${masterPort}, timeoutMs: 4000 } })
      .fit(data, { reportEvery: 5, checkpoint: { dir: ${JSON.stringify(dir)}, every: 10, resume: true },
        onProgress: (e) => { beat(); if (RANK === 1 && e.kind === 'train' && e.iteration >= ${killAt}) process.kill(process.pid, 'SIGKILL'); } });
    console.log(JSON.stringify({ iterations: h.iterations, start: h.startIteration, stopped: h.stopped }));`;
  const p = port();
  const ranks = [startRank(0, run(p, 25)), startRank(1, run(p, 25))];
  const exited = ranks.map((x) => new Promise<number>((resolve) => x.child.once('exit', () => resolve(Date.now()))));
  const [r0, r1] = await Promise.all(ranks.map((x) => x.done));
  const [end0, death1] = await Promise.all(exited);
  const seconds = (end0 - death1) / 1000; // from rank 1's death to rank 0's exit: the 4 s timeout and the error path
  t.is(r1.code, null, `rank 1 was killed: ${r1.stderr}`);
  t.is(r0.code, 3, r0.stdout);
  t.log(`${r0.stderr.trim()}\n(rank 0 exited ${seconds.toFixed(1)} s after rank 1 died)`);
  t.regex(r0.stderr, /ERROR rank 0: the .* with the other ranks failed \(suspect: rank 1 \(last at iteration \d+\)/);
  t.true(seconds < 30, `${seconds} s`);
  const meta = await readCheckpointMeta(path.join(dir, 'checkpoint.pt'));
  t.true(meta.trainer!.iteration >= 10 && meta.trainer!.iteration <= 30, `checkpoint at ${meta.trainer!.iteration}`);
  t.is(meta.trainer!.worldSize, 2);
  t.deepEqual(fs.readdirSync(dir), ['checkpoint.pt']);
  // Both ranks again: the run continues from the checkpoint and ends where an uninterrupted one does.
  const q = port();
  const [s0, s1] = await Promise.all([rank(0, run(q, 1e9)), rank(1, run(q, 1e9))]);
  t.is(s0.code, 0, s0.stderr);
  t.is(s1.code, 0, s1.stderr);
  t.like(JSON.parse(s0.stdout), { iterations: 60, start: meta.trainer!.iteration, stopped: 'completed' });
  // One process cannot resume the 2-rank run: it says what differs.
  const part = (await Cifar10.load(data, { split: 'train', holdout: 2000 })).validation!;
  const alone = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  await t.throwsAsync(new Trainer(alone, { iterations: 80, batchSize: 16, seed: 2 }).fit(part, { checkpoint: { dir, resume: true } }),
    { message: /it was trained by 2 rank\(s\) \(a global batch of 32\), but this fit has 1/ });
  alone.dispose();
  const straight = tmpDir();
  const r = port();
  const plain = (x: string) => run(r, 1e9).replace(JSON.stringify(dir), JSON.stringify(x));
  await Promise.all([rank(0, plain(straight)), rank(1, plain(straight))]);
  const diff = await maxWeightDiff(path.join(straight, 'checkpoint.pt'), path.join(dir, 'checkpoint.pt'));
  t.log(`resumed vs uninterrupted: max |Δ| ${diff}`);
  t.true(diff <= 1e-6, `max |Δ| ${diff}`);
});

glooTest('a rank that hangs fails the others within the timeout, naming it', async (t) => {
  const data = anyCifarDir(t);
  const run = (masterPort: number) => `const data = (await Cifar10.load(${JSON.stringify(data)}, { split: 'train', holdout: 2000 })).validation;
    const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
    await new Trainer(m, { iterations: 60, batchSize: 16, seed: 2, distributed: { rank: RANK, worldSize: 2, masterPort: ${masterPort}, timeoutMs: 4000 } })
      .fit(data, { reportEvery: 5,
        onProgress: (e) => { beat(); if (RANK === 1 && e.kind === 'train' && e.iteration >= 25) process.kill(process.pid, 'SIGSTOP'); } });`;
  const p = port();
  const r0 = startRank(0, run(p));
  const r1 = startRank(1, run(p));
  let lastBeat = Date.now(); // rank 1's last progress report, just before it stops itself
  (r1.child.stdio[3] as Readable).on('data', () => { lastBeat = Date.now(); });
  const first = await r0.done;
  const seconds = (Date.now() - lastBeat) / 1000; // from rank 1's hang to rank 0's exit: the 4 s timeout and the error path
  const stopped = r1.child.exitCode === null;
  r1.child.kill('SIGKILL');
  await r1.done;
  t.true(stopped, 'rank 1 was still there, stopped');
  t.is(first.code, 3, first.stdout);
  t.log(`${first.stderr.trim()}\n(rank 0 exited ${seconds.toFixed(1)} s after rank 1's last report)`);
  t.regex(first.stderr, /ERROR rank 0: the .* with the other ranks failed \(suspect: rank 1 \(last at iteration \d+\)/);
  t.true(seconds < 30, `${seconds} s`);
});

glooTest('distributed options are checked before anything starts, naming what was expected and received', (t) => {
  const m = new ResNet({ depth: 8, device: 'cpu' });
  const bad = (distributed: unknown) => () => new Trainer(m, { distributed } as never);
  t.throws(bad({ rank: 0, worldSize: 2, syncBatchNorm: 'yes' }), { message: /Expected distributed\.syncBatchNorm to be a boolean/ });
  t.throws(bad({ rank: 2, worldSize: 2 }), { message: /Expected distributed\.rank/ });
  t.throws(bad({ rank: 0, worldSize: 2, bogus: 1 }), { message: /bogus/ });
  const env = { RANK: process.env.RANK, WORLD_SIZE: process.env.WORLD_SIZE };
  delete process.env.RANK;
  delete process.env.WORLD_SIZE;
  try {
    t.throws(bad({ syncBatchNorm: true }), { message: /Expected the environment torchrun sets .* but RANK is not set/ });
  } finally {
    for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  }
  t.notThrows(() => new Trainer(m, { distributed: { rank: 1, worldSize: 2, syncBatchNorm: true } }));
  m.dispose();
});

glooTest('start errors are clear: a port in use, ranks with other settings or world sizes, a rank that never comes', async (t) => {
  const data = anyCifarDir(t);
  const fit = (extra: string) => `const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'test' });
    const m = new ResNet({ depth: 8, device: 'cpu' });
    await new Trainer(m, { iterations: 2, batchSize: ${'RANK === 0 ? 8 : 8'}, ${extra} }).fit(data);`;
  // A port another program holds.
  const held = port();
  const server = net.createServer().listen(held, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const busy = await rank(0, fit(`distributed: { rank: 0, worldSize: 1, masterPort: ${held}, timeoutMs: 3000 }`));
  server.close();
  t.regex(busy.stderr, new RegExp(`ERROR rank 0 of 1 cannot listen on 127\\.0\\.0\\.1:${held}: the port is in use`));
  // Two ranks started with other batch sizes.
  const p = port();
  const mixed = (r: number) => fit(`distributed: { rank: RANK, worldSize: 2, masterPort: ${p}, timeoutMs: 5000 }`).replace('batchSize: RANK === 0 ? 8 : 8', `batchSize: ${r === 0 ? 8 : 16}`);
  const [a, b] = await Promise.all([rank(0, mixed(0)), rank(1, mixed(1))]);
  t.regex(a.stderr + b.stderr, /rank \d and rank \d were started with different settings: .*batch (8|16) per rank.* here, .*batch (16|8) per rank/);
  // Ranks started with other world sizes: each says so at once, instead of waiting for a rank that never comes.
  const w = port();
  const worlds = await Promise.all([rank(0, fit(`distributed: { rank: 0, worldSize: 2, masterPort: ${w}, timeoutMs: 20000 }`)),
    rank(1, fit(`distributed: { rank: 1, worldSize: 3, masterPort: ${w}, timeoutMs: 20000 }`))]);
  t.regex(worlds[0].stderr, /ERROR rank 0 of 2 was started with world size 2, but rank 1 with 3/);
  t.regex(worlds[1].stderr, /ERROR rank 1 of 3 was started with world size 3, but rank 0 with 2/);
  // A world of 2 where the second rank never comes: bounded by the timeout.
  const started = Date.now();
  const alone = await rank(0, fit(`distributed: { rank: 0, worldSize: 2, masterPort: ${port()}, timeoutMs: 3000 }`));
  t.regex(alone.stderr, /ERROR rank 0 of 2: no rendezvous at 127\.0\.0\.1:\d+ within 3 s \(are all 2 ranks started/);
  t.true(Date.now() - started < 30_000);
});

/** The CLI's arguments for a short run into `out`. */
const smallRun = (data: string, out: string) => ['--depth', '8', '--iterations', '20', '--batch-size', '16', '--holdout', '45000',
  '--eval-every', '20', '--checkpoint-every', '10', '--data', data, '--out', out];

glooTest('resnet-cifar train --nproc-per-node 2 trains one run with two workers; the folder is written once', async (t) => {
  const out = path.join(tmpDir(), 'run');
  const r = await launch(process.execPath, [path.join(ROOT, 'bin/resnet-cifar.js'), 'train', ...smallRun(anyCifarDir(t), out), '--nproc-per-node', '2',
    '--master-port', String(port())], process.env, CLI_BACKSTOP_MS).done;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /2 ranks × batch 16/);
  t.is(r.stdout.match(/done: test error/g)?.length, 1, 'rank 0 alone reports');
  const final = JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8'));
  t.is(final.iterations, 20);
  t.is(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).worldSize, 2);
  t.is((await readCheckpointMeta(path.join(out, 'checkpoint.pt'))).trainer!.worldSize, 2);
});

glooTest('Ctrl-C to train --nproc-per-node 2 stops every worker together with a checkpoint (exit 130); --resume finishes', async (t) => {
  const data = anyCifarDir(t);
  const out = path.join(tmpDir(), 'run');
  const args = (iterations: number) => [path.join(ROOT, 'bin/resnet-cifar.js'), 'train', '--depth', '8', '--iterations', String(iterations),
    '--batch-size', '16', '--holdout', '45000', '--eval-every', '100000', '--data', data, '--out', out, '--nproc-per-node', '2',
    '--master-port', String(port())];
  const run = launch(process.execPath, args(100_000), process.env, CLI_BACKSTOP_MS);
  let seen = '';
  run.child.stdout.on('data', (d) => {
    // One Ctrl-C, after the first progress line (a second one, a second later, would leave at once).
    if (seen !== 'sent' && /it \d+\/100000/.test(seen += d)) {
      seen = 'sent';
      run.child.kill('SIGINT');
    }
  });
  const r = await run.done;
  t.is(r.code, 130, r.stderr);
  t.is(r.stderr.match(/stopping after the current iteration/g)?.length, 1, 'rank 0 alone says it is stopping');
  const stoppedAt = Number(/stopped at iteration (\d+); checkpoint/.exec(r.stdout)?.[1]);
  const meta = await readCheckpointMeta(path.join(out, 'checkpoint.pt'));
  t.is(meta.trainer!.iteration, stoppedAt);
  t.is(meta.trainer!.worldSize, 2);
  const resumed = await launch(process.execPath, [...args(stoppedAt + 20), '--resume'], process.env, CLI_BACKSTOP_MS).done;
  t.is(resumed.code, 0, resumed.stderr);
  t.is(JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8')).iterations, stoppedAt + 20);
});

glooTest('--nnodes 2 --node-rank K: two launchers (machines) join one run at the master address; node 0 keeps the folder', async (t) => {
  const data = anyCifarDir(t);
  const masterPort = String(port());
  const outs = [path.join(tmpDir(), 'run'), path.join(tmpDir(), 'run')];
  const [n0, n1] = await Promise.all([0, 1].map((node) => launch(process.execPath, [path.join(ROOT, 'bin/resnet-cifar.js'), 'train',
    ...smallRun(data, outs[node]), '--nproc-per-node', '1', '--nnodes', '2', '--node-rank', String(node), '--master-addr', '127.0.0.1',
    '--master-port', masterPort], process.env, CLI_BACKSTOP_MS).done));
  t.is(n0.code, 0, n0.stderr);
  t.is(n1.code, 0, n1.stderr);
  t.regex(n0.stdout, /2 ranks × batch 16/);
  t.is(n1.stdout, '', 'the second machine\'s worker prints only errors');
  t.is(JSON.parse(fs.readFileSync(path.join(outs[0], 'final.json'), 'utf8')).iterations, 20);
  t.is(JSON.parse(fs.readFileSync(path.join(outs[0], 'config.json'), 'utf8')).worldSize, 2);
  t.false(fs.existsSync(outs[1]), 'only rank 0 writes a run folder');
});

withPython([], glooTest)('torchrun --nproc-per-node 2 --no-python node …: the workers join through its environment and its agent\'s store', async (t) => {
  const data = anyCifarDir(t);
  const out = path.join(tmpDir(), 'run');
  // The CLI, and a script of one's own with `distributed: true`, as a user would start them.
  const script = path.join(tmpDir(), 'train.js');
  fs.writeFileSync(script, `require(${JSON.stringify(require.resolve('tsx/cjs'))});
    const { Cifar10, ResNet, Trainer } = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    (async () => {
      const data = (await Cifar10.load(${JSON.stringify(data)}, { split: 'train', holdout: 2000 })).validation;
      const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
      const trainer = new Trainer(m, { iterations: 6, batchSize: 16, distributed: true });
      const h = await trainer.fit(data, { reportEvery: 3 });
      console.log(JSON.stringify({ rank: process.env.RANK, worldSize: trainer.options.distributed.worldSize, iterations: h.iterations,
        losses: h.train.map((p) => p.loss) }));
    })().catch((e) => { console.error('ERROR ' + e.message); process.exit(3); });`);
  const torchrun = (args: string[]) => launch(PYTHON, ['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-port', String(port()),
    '--no-python', process.execPath, ...args], process.env, CLI_BACKSTOP_MS).done;
  const cli = await torchrun([path.join(ROOT, 'bin/resnet-cifar.js'), 'train', ...smallRun(data, out)]);
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, /2 ranks × batch 16/);
  t.is(cli.stdout.match(/done: test error/g)?.length, 1, 'rank 0 alone reports');
  t.is(JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8')).iterations, 20);
  // torchrun's agent hosts the store on the master port: rank 0 joins it instead of trying to listen there too.
  t.notRegex(cli.stderr, /failed to bind/);
  const own = await torchrun([script]);
  t.is(own.code, 0, own.stderr);
  t.notRegex(own.stderr, /failed to bind/);
  const lines = own.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => l.rank).sort(), ['0', '1']);
  t.true(lines.every((l) => l.worldSize === 2 && l.iterations === 6));
  // The reported loss is averaged over the ranks' batches: the same on both, so they trained as one.
  t.is(lines[0].losses.length, 2);
  t.deepEqual(lines[0].losses, lines[1].losses);
});
