// Several things at once: two trainers, predict during training, dispose with work pending, exit mid-training.
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet, Trainer } from '../lib/index';
import { anyCifarDir, ROOT, tmpDir } from './helpers';

test('two trainers in one process train at once and both finish', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const a = new ResNet({ depth: 8, device: 'cpu', seed: 1 });
  const b = new ResNet({ depth: 8, device: 'cpu', seed: 2 });
  const seen = { a: 0, b: 0 };
  const [ha, hb] = await Promise.all([
    new Trainer(a, { iterations: 60, batchSize: 16 }).fit(data, { reportEvery: 5, onProgress: () => seen.a++ }),
    new Trainer(b, { iterations: 60, batchSize: 16 }).fit(data, { reportEvery: 5, onProgress: () => seen.b++ }),
  ]);
  t.is(ha.iterations, 60);
  t.is(hb.iterations, 60);
  t.true(seen.a >= 12 && seen.b >= 12);
});

test('predict and evaluate on a model while it trains; they interleave with the steps', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const small = (await Cifar10.load(anyCifarDir(t), { split: 'train', holdout: 500 })).validation!;
  const m = new ResNet({ depth: 8, device: 'cpu' });
  let fitDone = false;
  const fit = new Trainer(m, { iterations: 1000, batchSize: 16 }).fit(data).then((h) => { fitDone = true; return h; });
  let predicted = 0;
  let evaluated = 0;
  while (!fitDone && (predicted < 3 || evaluated < 3)) {
    const out = await m.predict(new Float32Array(3072 * 2));
    t.is(out.length, 20);
    predicted++;
    const r = await m.evaluate(small, { batchSize: 250 });
    t.is(r.count, 500);
    t.true(r.error >= 0 && r.error <= 100 && Number.isFinite(r.loss));
    evaluated++;
  }
  t.true(predicted >= 3 && evaluated >= 3, `${predicted} predictions, ${evaluated} evaluations`);
  t.false(fitDone, 'predictions and evaluations were answered while the fit was still running');
  t.false(m.training, 'evaluate and predict left the model in eval mode');
  const h = await fit;
  t.is(h.iterations, 1000);
});

test('dispose with a predict and a fit pending: every Promise settles, the fit stops', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const m = new ResNet({ depth: 8, device: 'cpu' });
  let started!: () => void;
  const running = new Promise<void>((r) => { started = r; });
  const fit = new Trainer(m, { iterations: 100_000, batchSize: 16 }).fit(data, { reportEvery: 1, onProgress: () => started() });
  await running;
  const p = m.predict(new Float32Array(3072));
  m.dispose();
  t.true(m.disposed);
  await p; // work already started completes
  const h = await fit;
  t.is(h.stopped, 'aborted');
  t.true(h.iterations < 100_000);
  await t.throwsAsync(m.predict(new Float32Array(3072)), { message: /disposed/ });
});

test('process.exit while training ends the process cleanly (no crash, no hang) and keeps a loadable checkpoint', async (t) => {
  const dir = tmpDir();
  const script = `
    const { Cifar10, ResNet, Trainer } = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    (async () => {
      const data = await Cifar10.load(${JSON.stringify(anyCifarDir(t))}, { split: 'test' });
      const m = new ResNet({ depth: 8, device: 'cpu' });
      new Trainer(m, { iterations: 1e6, batchSize: 8 }).fit(data, {
        reportEvery: 5, checkpoint: { dir: ${JSON.stringify(dir)}, every: 5 },
        onProgress: (e) => { if (e.kind === 'train' && e.iteration >= 20) process.exit(0); },
      });
    })();`;
  const started = Date.now();
  const r = await new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, ['--import=tsx', '-e', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => { stderr += d; });
    const kill = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (code, signal) => { clearTimeout(kill); resolve({ code, signal, stderr }); });
  });
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0, r.stderr);
  t.true(Date.now() - started < 60_000);
  const m = await ResNet.load(path.join(dir, 'checkpoint.pt'), { device: 'cpu' });
  t.true(Number(m.meta.iteration) >= 15);
  t.deepEqual(fs.readdirSync(dir), ['checkpoint.pt']);
});
