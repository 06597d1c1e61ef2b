// lib/'s layering, read by madge (a maintained dependency-graph tool) from the TypeScript sources: no import circle,
// and native.ts (the addon's typed contract) at the bottom, importing nothing else from lib/.
import test from 'ava';
import * as path from 'node:path';
import { ROOT } from './helpers';

interface MadgeResult { obj(): Record<string, string[]>; circular(): string[][] }
const madge = require('madge') as (path: string, config: object) => Promise<MadgeResult>;

async function graph(): Promise<MadgeResult> {
  return madge(path.join(ROOT, 'lib'), { fileExtensions: ['ts'], tsConfig: path.join(ROOT, 'tsconfig.json') });
}

test('lib/ has no import circle (type-only imports included)', async (t) => {
  const g = await graph();
  t.true(Object.keys(g.obj()).length >= 20, 'madge read lib/');
  t.deepEqual(g.circular(), []);
});

test('lib/native.ts imports nothing else from lib/; every other file that loads the addon goes through it', async (t) => {
  const g = (await graph()).obj();
  t.deepEqual(g['native.ts'], []);
  t.true(Object.values(g).some((deps) => deps.includes('native.ts')));
});

test('the layers above native.ts: recipe, torchrun and paper import nothing; only the CLI imports the CLI', async (t) => {
  const g = (await graph()).obj();
  for (const leaf of ['recipe.ts', 'torchrun.ts', 'paper.ts']) t.deepEqual(g[leaf], [], leaf);
  const cli = Object.keys(g).filter((f) => f.startsWith('cli/'));
  t.true(cli.length >= 10, 'the CLI is a folder of files');
  for (const [file, deps] of Object.entries(g)) {
    if (!file.startsWith('cli/')) t.deepEqual(deps.filter((d) => d.startsWith('cli/')), [], `${file} imports the CLI`);
  }
});

test('files stay readable: lib/ files under 450 lines, the CLI\'s under 300, native/ files about 450 (480)', (t) => {
  const fs = require('node:fs') as typeof import('node:fs');
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of walk(path.join(ROOT, 'lib')).filter((x) => x.endsWith('.ts'))) {
    const lines = fs.readFileSync(f, 'utf8').split('\n').length;
    const rel = path.relative(ROOT, f);
    t.true(lines <= (rel.startsWith('lib/cli/') ? 300 : 450), `${rel}: ${lines} lines`);
  }
  for (const f of walk(path.join(ROOT, 'native')).filter((x) => /\.(cc|h)$/.test(x))) {
    const lines = fs.readFileSync(f, 'utf8').split('\n').length;
    t.true(lines <= 480, `${path.relative(ROOT, f)}: ${lines} lines`);
  }
});
