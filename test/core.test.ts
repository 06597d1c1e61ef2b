// native/core without Node: test/native/core_test.cc, built from the cmake-js build folder and run as a plain
// program (the schedule, SGD, normalization, the fit loop with exact resume and abort, the checkpoint contract).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { info } from '../lib/index';
import { requires, ROOT } from './helpers';

const build = path.join(ROOT, 'build');
const cmakeBuild = requires(info().addon.build === 'cmake-js' && fs.existsSync(path.join(build, 'CMakeCache.txt')),
  'cmake-js build folder (build/CMakeCache.txt)', 'npm install or npm run build:native');

cmakeBuild('the training system runs from plain C++: native/core built and tested without N-API', (t) => {
  const made = spawnSync('cmake', ['--build', build, '--target', 'core_test'], { encoding: 'utf8', timeout: 300_000 });
  t.is(made.status, 0, `${made.stdout}\n${made.stderr}`);
  const run = spawnSync(path.join(build, 'core_test'), { encoding: 'utf8', timeout: 300_000 });
  const lines = run.stdout.trim().split('\n');
  t.log(lines.filter((l) => /^(ok|not ok)/.test(l)).join('\n'));
  t.is(run.status, 0, `${run.stdout}\n${run.stderr}`);
  t.true(lines.filter((l) => l.startsWith('ok - ')).length >= 16);
  t.is(lines.at(-1), '0 failed');
});
