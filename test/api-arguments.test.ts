// Argument fuzzing (see test/stress/api-arguments.ts): every call ends in a JS error or a result, never an abort.
import test from 'ava';
import * as fs from 'node:fs';
import { Cifar10 } from '../lib/index';
import { fuzz } from './stress/api-arguments';
import { anyCifarDir, tmpDir } from './helpers';

test('thousands of malformed calls into the public API and the native surface end in JS errors', async (t) => {
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const r = await fuzz(data, tmpDir(), Number(process.env.FUZZ_ROUNDS ?? 100), Number(process.env.FUZZ_SEED ?? 20261129));
  t.log(`seed ${r.seed}: ${r.cases} calls, ${r.thrown} threw (${Object.entries(r.byType).map(([k, v]) => `${k} ${v}`).join(', ')}), ${r.ok} succeeded`);
  t.deepEqual(r.problems.slice(0, 10), []);
  t.true(r.cases >= 3000);
  t.true((r.byType.TypeError ?? 0) > 100 && (r.byType.RangeError ?? 0) > 100);
  // No hostile size may allocate without bound: this whole process (data set included) stays under 2 GB.
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  t.log(`peak resident memory ${peak.toFixed(0)} MB`);
  t.true(peak < 2048, `peak RSS ${peak.toFixed(0)} MB`);
});
