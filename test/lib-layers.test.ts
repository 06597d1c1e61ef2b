// lib/'s floors, read by madge (a maintained dependency-graph tool) from the TypeScript sources: each folder imports
// only its own files and the floors below it (never a sibling's or a higher one), no import circle, and
// base/native.ts (the addon's typed contract) at the very bottom, importing nothing else from lib/.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers';

interface MadgeResult { obj(): Record<string, string[]>; circular(): string[][] }
const madge = require('madge') as (path: string, config: object) => Promise<MadgeResult>;

/** lib/'s floors from the bottom (docs/architecture.md draws them); index.ts, the package's entry, is above all. */
const FLOORS = ['base', 'io', 'data', 'model', 'train', 'run', 'cli', '.'];

async function graph(dir = path.join(ROOT, 'lib')): Promise<MadgeResult> {
  return madge(dir, { fileExtensions: ['ts'], tsConfig: path.join(ROOT, 'tsconfig.json') });
}

/** The imports that climb a floor or cross to another folder on the same floor, and files in no floor's folder. */
function violations(g: Record<string, string[]>): string[] {
  const floor = (file: string) => FLOORS.indexOf(path.dirname(file) === '.' ? '.' : file.split('/')[0]);
  return Object.entries(g).flatMap(([file, deps]) => {
    const a = floor(file);
    if (a < 0) return [`${file}: its folder has no floor`];
    return deps.flatMap((d) => {
      const b = floor(d);
      if (b > a) return [`${file} imports ${d}, a floor above it`];
      if (b === a && path.dirname(d) !== path.dirname(file)) return [`${file} imports ${d}, another folder on its floor`];
      return [];
    });
  });
}

test('lib/: every import stays in its folder or goes down a floor; no import circle (type-only imports included)', async (t) => {
  const g = await graph();
  const files = Object.keys(g.obj());
  t.true(files.length >= 40, `madge read ${files.length} files of lib/`);
  t.true(FLOORS.slice(0, -1).every((f) => files.some((x) => x.startsWith(`${f}/`))), 'every floor has files');
  t.deepEqual(violations(g.obj()), []);
  t.deepEqual(g.circular(), []);
});

test('the floor check fails on an import that climbs, as written into a copy of lib/', async (t) => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-lib-layers-'));
  fs.cpSync(path.join(ROOT, 'lib'), copy, { recursive: true });
  const f = path.join(copy, 'model/evaluation.ts');
  fs.writeFileSync(f, `import type { Trainer } from '../train/trainer';\nexport type T = Trainer;\n${fs.readFileSync(f, 'utf8')}`);
  const found = violations((await graph(copy)).obj());
  fs.rmSync(copy, { recursive: true, force: true });
  t.true(found.includes('model/evaluation.ts imports train/trainer.ts, a floor above it'), found.join('\n'));
});

test('base/native.ts imports only the vocabulary of base/types.ts, which imports nothing; every other file that loads the addon goes through native.ts', async (t) => {
  const g = (await graph()).obj();
  t.deepEqual(g['base/native.ts'], ['base/types.ts']);
  t.deepEqual(g['base/types.ts'], []);
  t.true(Object.values(g).some((deps) => deps.includes('base/native.ts')));
  for (const leaf of ['base/recipe.ts', 'base/torchrun.ts', 'base/paper.ts']) t.deepEqual(g[leaf], [], leaf);
});

test('lib/ imports nothing from outside lib/ but packages and package.json (scripts/ is not shipped as lib/ is)', (t) => {
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const outside: string[] = [];
  for (const f of walk(path.join(ROOT, 'lib')).filter((x) => x.endsWith('.ts'))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?:from|require\(|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.relative(ROOT, path.resolve(path.dirname(f), m[1]));
      if (!target.startsWith('lib/') && target !== 'package.json') outside.push(`${path.relative(ROOT, f)}: ${m[1]}`);
    }
  }
  t.deepEqual(outside, []);
});

test('files stay readable: lib/ files under 450 lines, the CLI\'s under 300, native/ files about 450 (480)', (t) => {
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of walk(path.join(ROOT, 'lib')).filter((x) => x.endsWith('.ts'))) {
    const lines = fs.readFileSync(f, 'utf8').split('\n').length;
    const rel = path.relative(ROOT, f);
    t.true(lines <= (rel.startsWith('lib/cli/') ? 300 : 450), `${rel}: ${lines} lines`);
  }
  // Our native code; native/third_party/ is vendored as upstream wrote it (its VENDORED.md).
  const ours = (x: string) => /\.(cc|h)$/.test(x) && !path.relative(ROOT, x).startsWith(path.join('native', 'third_party'));
  t.true(walk(path.join(ROOT, 'native')).filter(ours).length > 50, 'native/ read');
  for (const f of walk(path.join(ROOT, 'native')).filter(ours)) {
    const lines = fs.readFileSync(f, 'utf8').split('\n').length;
    t.true(lines <= 480, `${path.relative(ROOT, f)}: ${lines} lines`);
  }
});
