import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTime } from '../lib/run';
import { tmpDir } from './helpers';

const lines = (dir: string, rows: object[]) =>
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
const train = (iteration: number, imagesPerSecond: number, elapsed: number) => ({ kind: 'train', iteration, imagesPerSecond, elapsed });

test('runTime sums a run over its start lines: wall time to each start\'s last report, training windows from each start\'s iteration', (t) => {
  const dir = tmpDir();
  lines(dir, [
    { kind: 'start', iteration: 0, machine: 'cpu A' },
    train(10, 100, 2), train(20, 50, 5), { kind: 'eval', iteration: 20, error: 50 },
    { kind: 'start', iteration: 15, machine: 'cpu B' }, // resumed from a checkpoint at 15: the window is 15..20
    train(20, 10, 3), train(30, 20, 7),
    { kind: 'start', iteration: 30, machine: 'cpu A' },
  ]);
  const r = runTime(dir, 10);
  t.is(r.starts, 3);
  t.is(r.seconds, 5 + 7 + 0);
  // 10·10/100 + 10·10/50 + 5·10/10 + 10·10/20
  t.is(r.trainingSeconds, 1 + 2 + 5 + 5);
  t.deepEqual(r.machines, ['cpu A', 'cpu B']);
});

test('runTime finds the starts of folders written before start lines by the reports\' elapsed time going back', (t) => {
  const dir = tmpDir();
  lines(dir, [train(10, 100, 4), train(20, 100, 8), train(30, 200, 1), train(40, 200, 3), { kind: 'eval', iteration: 40, error: 9 }]);
  const r = runTime(dir, 10);
  t.is(r.starts, 2);
  t.is(r.seconds, 8 + 3);
  t.is(r.trainingSeconds, 1 + 1 + 0.5 + 0.5);
  t.deepEqual(r.machines, []);
  t.deepEqual(runTime(tmpDir(), 10), { starts: 0, seconds: 0, trainingSeconds: 0, machines: [] });
});
