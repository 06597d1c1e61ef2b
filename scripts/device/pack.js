#!/usr/bin/env node
'use strict';
// npm run device:pack [-- --data DIR] [--out .device]
// Fills the ignored folder .device/ with what the GPU machine needs and lacks (it has CUDA, python3's torch, cmake
// and ninja; no Node.js, no npm, no network). Each run there carries the working tree plus named ignored folders,
// 64 MiB in all, so the pieces are sized to travel separately:
//   .device/base/    node.xz (this machine's Node binary), modules.tar.xz (the node_modules a build and a run need:
//                    cmake-js and its dependencies, node-addon-api, node-api-headers, bindings, protobufjs and crc-32 for TensorBoard), dist.tar.xz (the
//                    compiled TypeScript), pytorch_seed.py (the PyTorch peer), SHA256SUMS of the CIFAR-10 files,
//                    manifest.json
//   .device/data/1/, 2/, 3/   CIFAR-10's batch files, xz-compressed, two per part (about 46 MB)
// scripts/device/driver.sh unpacks them there. Unchanged inputs are not packed again (manifest.json).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const OUT = path.resolve(ROOT, opt('--out', '.device'));
const DATA = path.resolve(opt('--data', process.env.CIFAR10_DIR || path.join(ROOT, '../shared/cifar10/cifar-10-batches-bin')));
const PEER = path.resolve(opt('--peer', path.join(ROOT, '../shared/bench/pytorch_seed.py')));
const MODULES = ['cmake-js', 'node-addon-api', 'node-api-headers', 'bindings', 'protobufjs', 'crc-32'];
// The test batch first: the correctness checks can run as soon as part 1 is there.
const PARTS = [['test_batch.bin', 'batches.meta.txt', 'data_batch_1.bin'], ['data_batch_2.bin', 'data_batch_3.bin'],
  ['data_batch_4.bin', 'data_batch_5.bin']];
const LIMIT = 64 * 2 ** 20;

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const size = (file) => fs.statSync(file).size;
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const t0 = Date.now();
const log = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);

const manifestFile = path.join(OUT, 'base', 'manifest.json');
const old = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {};
const manifest = { created: new Date().toISOString(), inputs: {} };

// Runs `make(dest)` unless `dest` exists and was made from the same `key` (a digest of its inputs).
function cached(dest, key, make) {
  manifest.inputs[path.relative(OUT, dest)] = key;
  if (fs.existsSync(dest) && old.inputs && old.inputs[path.relative(OUT, dest)] === key) {
    log(`${path.relative(ROOT, dest)}: unchanged (${mib(size(dest))})`);
    return;
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  make(dest + '.tmp');
  fs.renameSync(dest + '.tmp', dest);
  log(`${path.relative(ROOT, dest)}: ${mib(size(dest))}`);
}

function xz(src, dest) {
  fs.writeFileSync(dest, execFileSync('xz', ['-T0', '-6', '-c', src], { maxBuffer: 512 * 2 ** 20 }));
}

// The dependency closure of `names` in node_modules (npm's layout: a package's own node_modules first).
function closure(names) {
  const seen = new Set();
  const visit = (name, from) => {
    const candidates = [path.join(from, 'node_modules', name), path.join(ROOT, 'node_modules', name)];
    const dir = candidates.find((d) => fs.existsSync(path.join(d, 'package.json')));
    if (!dir) throw new Error(`device:pack: ${name} is not installed (npm ci first)`);
    if (seen.has(dir)) return;
    seen.add(dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies || {})) visit(dep, dir);
  };
  for (const n of names) visit(n, ROOT);
  return [...seen].map((d) => path.relative(ROOT, d)).sort();
}

function main() {
  fs.mkdirSync(path.join(OUT, 'base'), { recursive: true });
  // Node itself.
  const node = process.execPath;
  cached(path.join(OUT, 'base', 'node.xz'), `${node}:${size(node)}:${fs.statSync(node).mtimeMs}:${process.version}`,
    (dest) => xz(node, dest));
  // node_modules for the build and a run.
  const dirs = closure(MODULES);
  const modulesKey = crypto.createHash('sha256').update(dirs.map((d) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, d, 'package.json'), 'utf8'));
    return `${d}@${pkg.version}`;
  }).join(',')).digest('hex');
  cached(path.join(OUT, 'base', 'modules.tar.xz'), modulesKey, (dest) => {
    execFileSync('tar', ['-cJf', dest, '-C', ROOT, ...dirs]);
  });
  // The compiled TypeScript, fresh.
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
  const distFiles = execFileSync('find', ['dist', '-type', 'f'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').sort();
  const distKey = crypto.createHash('sha256').update(distFiles.map((f) => sha256(path.join(ROOT, f))).join(',')).digest('hex');
  cached(path.join(OUT, 'base', 'dist.tar.xz'), distKey, (dest) => execFileSync('tar', ['-cJf', dest, '-C', ROOT, 'dist', 'package.json']));
  // The PyTorch peer (it lives beside the checkout, which does not travel).
  if (fs.existsSync(PEER)) fs.copyFileSync(PEER, path.join(OUT, 'base', 'pytorch_seed.py'));
  else log(`note: no PyTorch peer at ${PEER}; the GPU benchmark will run without it`);
  // CIFAR-10, in parts.
  if (fs.existsSync(path.join(DATA, 'test_batch.bin'))) {
    const sums = [];
    PARTS.forEach((files, i) => {
      for (const f of files) {
        const src = path.join(DATA, f);
        const digest = sha256(src);
        sums.push(`${digest}  ${f}`);
        cached(path.join(OUT, 'data', String(i + 1), `${f}.xz`), digest, (dest) => xz(src, dest));
      }
    });
    fs.writeFileSync(path.join(OUT, 'base', 'SHA256SUMS'), sums.join('\n') + '\n');
    // Nothing else in the parts (a file left from an earlier layout would travel twice).
    for (const d of fs.readdirSync(path.join(OUT, 'data'))) {
      const want = new Set((PARTS[Number(d) - 1] || []).map((f) => `${f}.xz`));
      for (const f of fs.readdirSync(path.join(OUT, 'data', d))) {
        if (!want.has(f)) fs.rmSync(path.join(OUT, 'data', d, f), { recursive: true, force: true });
      }
    }
  } else {
    log(`note: no CIFAR-10 at ${DATA}; packed without data`);
  }
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  // What each run carries, against the 64 MiB a run may take with the working tree.
  const tree = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT }).toString('utf8').split('\0')
    .filter(Boolean).filter((f) => fs.existsSync(path.join(ROOT, f))).reduce((s, f) => s + size(path.join(ROOT, f)), 0);
  const folder = (d) => (fs.existsSync(d) ? fs.readdirSync(d).reduce((s, f) => s + size(path.join(d, f)), 0) : 0);
  const base = folder(path.join(OUT, 'base'));
  console.log(`\nworking tree ${mib(tree)}; carry .device/base: ${mib(base)} (with the tree ${mib(tree + base)} of 64 MiB)`);
  for (let i = 1; i <= PARTS.length; i++) {
    const part = folder(path.join(OUT, 'data', String(i)));
    if (part) console.log(`carry .device/data/${i}: ${mib(part)} (with the tree ${mib(tree + part)})`);
    if (tree + part > LIMIT || tree + base > LIMIT) throw new Error('device:pack: a run would exceed 64 MiB');
  }
}

main();
