// The fast parts of `npm run test:stress`: crash safety with a few kills, memory over a few hundred cycles.
import test from 'ava';
import * as path from 'node:path';
import { Cifar10 } from '../lib/index';
import { crashSafety } from './stress/crash';
import { collected, cycles } from './stress/leak';
import { anyCifarDir, tmpDir } from './helpers';

test('SIGKILL at random moments: every checkpoint left loads; resuming reaches the uninterrupted weights', async (t) => {
  const r = await crashSafety(anyCifarDir(t), tmpDir(), Number(process.env.CRASH_KILLS ?? 5), 400, (s) => t.log(s));
  t.log(`${r.kills} kills (${r.killedMidWrite} during a checkpoint write), ${r.checkpointsLoaded} checkpoints loaded, max |Δlogit| ${r.maxAbsDiff}`);
  t.true(r.kills >= 3);
  t.is(r.checkpointsLoaded, r.resumedIterations.length);
  t.is(r.maxAbsDiff, 0);
});

test.serial('create -> predict -> train -> dispose cycles do not grow RSS; dropped models are garbage-collected', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const c = await cycles(data, Number(process.env.LEAK_CYCLES ?? 250));
  t.log(`${c.cycles} cycles: RSS ${c.baseMiB.toFixed(0)} MiB after 50, growth ${c.growthMiB.toFixed(1)} MiB after that`);
  t.true(c.growthMiB < 50);
  const g = await collected(100);
  t.log(`${g.models} ResNet-56 models dropped without dispose: RSS growth ${g.growthMiB.toFixed(1)} MiB (340 MiB if none were freed)`);
  t.true(g.growthMiB < 120);
  void path;
});
