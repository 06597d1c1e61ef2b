// native/'s floors, read from the #include lines themselves: a file includes only its own folder and the floors below
// it (docs/architecture.md draws them). native/core never includes native/napi, and every folder has a floor.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers';

/** Floors from the bottom: a folder may include its own files and those of lower floors, never a sibling's. */
const FLOORS: string[][] = [
  ['core/base'], // errors, limits, files, precision, the CPU's features
  ['core/codecs'], // archives, gzip and JSON
  ['core/data', 'core/nn'], // datasets (their files: CIFAR, IDX) and batches; the network's modules
  ['core/formats'], // other programs' files: pickle / torch.save, safetensors, foreign state-dict layouts
  ['core/checkpoint'], // our checkpoint format and the trainer's state in it
  ['core/model'], // a network with its normalization, evaluation, TorchScript and .pt2 modules
  ['core/train'], // fit, SGD, schedules, distributed, CUDA graphs
  ['napi'], // the N-API glue over all of core
];

const floorOf = (folder: string) => FLOORS.findIndex((f) => f.includes(folder));

/** Every quoted #include under `root`, as [including folder, included folder, where] (folders relative to root). */
function includes(root: string): [string, string, string][] {
  const out: [string, string, string][] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cc|h)$/.test(e.name)) {
        fs.readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          const m = /^\s*#\s*include\s+"([^"]+)"/.exec(line);
          if (!m) return;
          const target = path.relative(root, path.resolve(path.dirname(p), m[1]));
          out.push([path.relative(root, dir), path.dirname(target), `${path.relative(root, p)}:${i + 1}: ${m[1]}`]);
        });
      }
    }
  };
  walk(root);
  return out;
}

/** The includes that climb a floor, cross to a sibling on the same floor, or come from or go to a folder with no floor. */
function violations(edges: [string, string, string][]): string[] {
  return edges.flatMap(([from, to, where]) => {
    if (from === to) return [];
    const a = floorOf(from), b = floorOf(to);
    if (a < 0) return [`${where}: ${from}/ has no floor`];
    if (b < 0) return [`${where}: ${to}/ has no floor`];
    if (b > a) return [`${where}: ${from}/ (floor ${a}) includes ${to}/ (floor ${b}), above it`];
    if (b === a) return [`${where}: ${from}/ includes ${to}/, a sibling on the same floor`];
    return [];
  });
}

test('native/: every #include stays in its folder or goes down a floor (core never includes napi)', (t) => {
  const edges = includes(path.join(ROOT, 'native'));
  t.true(edges.length > 100, `read ${edges.length} includes`);
  const folders = new Set(edges.map(([from]) => from));
  t.true(FLOORS.flat().every((f) => folders.has(f)), `every floor's folder exists: ${[...folders].sort().join(', ')}`);
  t.deepEqual(violations(edges), []);
});

test('the floor check fails on a climbing include, a sibling include and a folder without a floor', (t) => {
  const found = violations([
    ['core/model', 'core/train', 'core/model/model.h:3: ../train/fit.h'],
    ['core/nn', 'core/data', 'core/nn/resnet.h:4: ../data/dataset.h'],
    ['core/io', 'core/base', 'core/io/x.h:1: ../base/files.h'],
    ['core/train', 'core/model', 'core/train/fit.h:9: ../model/model.h'],
  ]);
  t.is(found.length, 3);
  t.regex(found[0], /core\/model\/ \(floor 5\) includes core\/train\/ \(floor 6\), above it/);
  t.regex(found[1], /a sibling on the same floor/);
  t.regex(found[2], /core\/io\/ has no floor/);
});

test('a climbing include written into a real file is found', (t) => {
  // The same reader over a copy of native/ with one include that climbs (nn/ → train/).
  const copy = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'resnet-cifar-layers-'));
  fs.cpSync(path.join(ROOT, 'native'), copy, { recursive: true });
  const f = path.join(copy, 'core/nn/resnet.h');
  fs.writeFileSync(f, `#include "../train/fit.h"\n${fs.readFileSync(f, 'utf8')}`);
  const found = violations(includes(copy));
  fs.rmSync(copy, { recursive: true, force: true });
  t.deepEqual(found, ['core/nn/resnet.h:1: ../train/fit.h: core/nn/ (floor 2) includes core/train/ (floor 6), above it']);
});
