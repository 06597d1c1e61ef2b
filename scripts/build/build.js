#!/usr/bin/env node
'use strict';
// `npm install` entry: find libtorch (scripts/build/libtorch.js), say which one, and build the addon with cmake-js.
// node scripts/build/build.js [--force] [--debug]
const path = require('path');
const fs = require('fs');
const { spawnSync } = require('child_process');
const { findOrObtain, summary, NotFound } = require('./libtorch');

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);

async function main() {
  let torch;
  try {
    torch = await findOrObtain();
  } catch (e) {
    if (!(e instanceof NotFound)) throw e;
    console.error(e.message);
    process.exit(1);
  }
  console.error(`resnet-cifar: using ${summary(torch)}`);
  build(torch);
}

function build(torch) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const cmd = args.includes('--force') ? 'rebuild' : 'compile';
  // --sanitize: an AddressSanitizer + UndefinedBehaviorSanitizer build (no recovery) in .asan/ for npm run
  // test:stress's sanitizer area; Node runs it with libasan preloaded (scripts/reliability/stress.ts).
  const sanitize = args.includes('--sanitize');
  const out = sanitize ? path.join(ROOT, '.asan') : path.join(ROOT, 'build');
  const cmakeArgs = [cmakeJs, cmd, '--directory', ROOT, '--out', out,
    `--CDTorch_DIR=${torch.cmakeDir}`, `--CDRESNET_CIFAR_LIBTORCH_DIR=${torch.libDir}`];
  if (sanitize) {
    const f = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g';
    cmakeArgs.push(`--CDCMAKE_CXX_FLAGS=${f}`, `--CDCMAKE_SHARED_LINKER_FLAGS=${f}`, `--CDCMAKE_EXE_LINKER_FLAGS=${f}`);
  }
  if (args.includes('--debug')) cmakeArgs.push('--debug');
  if (process.env.RESNET_CIFAR_NCCL === '0') cmakeArgs.push('--CDRESNET_CIFAR_WITH_NCCL=OFF');
  const r = spawnSync(process.execPath, cmakeArgs, { stdio: 'inherit', cwd: ROOT });
  if (r.status !== 0) {
    console.error('resnet-cifar: building the native addon failed (see the output above).');
    process.exit(r.status || 1);
  }
  fs.writeFileSync(path.join(out, 'libtorch.json'), JSON.stringify(torch, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
