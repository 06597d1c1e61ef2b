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
