#!/usr/bin/env node
'use strict';
// Finds the libtorch that both builds (cmake-js and node-gyp) compile and link against.
//
// Order, first match wins (like tch-rs):
//   1. LIBTORCH              an unpacked libtorch folder (pytorch.org zip) or any folder holding share/cmake/Torch
//   2. Torch_DIR, CMAKE_PREFIX_PATH   a folder with TorchConfig.cmake, or prefixes that hold one
//   3. python3's torch       its torch.utils.cmake_prefix_path (LIBTORCH_PYTHON names another interpreter;
//                            LIBTORCH_USE_PYTORCH=0 skips this step)
//   4. a system install      Debian's libtorch-dev, /usr/local/libtorch, /opt/libtorch
//   5. this package's own    .libtorch/ (a CPU torch wheel unpacked by an earlier install)
//   6. the per-user cache    ~/.cache/resnet-cifar/libtorch/<version>-<variant> (RESNET_CIFAR_LIBTORCH_CACHE moves
//                            it), where step 7 unpacks PyTorch's archive once for every project
//   7. obtain one (RESNET_CIFAR_NO_DOWNLOAD=1 skips this):
//      - with python3 -m pip: pip installs RESNET_CIFAR_TORCH_SPEC (default torch==2.13.0+cpu) into .libtorch/ with
//        --target, never into the user's Python;
//      - without it, or when RESNET_CIFAR_LIBTORCH_URL names a mirror: PyTorch's libtorch archive, downloaded,
//        SHA-256-checked and unpacked into the cache (scripts/build/libtorch-download.js; TORCH_CUDA_VERSION for CUDA)
//
// Usage: node scripts/build/libtorch.js            human summary
//        node scripts/build/libtorch.js --json     the choice as JSON
//        node scripts/build/libtorch.js --gyp libs|ldflags|cflags|defines   (for binding.gyp)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const download = require('./libtorch-download');

const ROOT = path.resolve(__dirname, '../..');
const LOCAL = process.env.RESNET_CIFAR_LOCAL_DIR || path.join(ROOT, '.libtorch');
const MIN_MAJOR = 2;
const DEFAULT_SPEC = 'torch==2.13.0+cpu';

class NotFound extends Error {}
// No libtorch anywhere (as opposed to a setting that points at something that is not one): step 7 may obtain one.
class NothingFound extends NotFound {}

function exists(p) {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

// A folder holding TorchConfig.cmake, given a prefix or the folder itself.
function cmakeDirUnder(prefix) {
  const c = [prefix, path.join(prefix, 'share/cmake/Torch'), path.join(prefix, 'Torch'),
    path.join(prefix, 'lib/cmake/Torch'), path.join(prefix, 'lib/x86_64-linux-gnu/cmake/Torch'),
    path.join(prefix, 'lib/aarch64-linux-gnu/cmake/Torch')];
  return c.find((d) => exists(path.join(d, 'TorchConfig.cmake')));
}

function readVersion(cmakeDir, root) {
  const vf = path.join(cmakeDir, 'TorchConfigVersion.cmake');
  if (exists(vf)) {
    const m = /PACKAGE_VERSION "([^"]+)"/.exec(fs.readFileSync(vf, 'utf8'));
    if (m) return m[1];
  }
  const bv = path.join(root, 'build-version');
  if (exists(bv)) return fs.readFileSync(bv, 'utf8').trim();
  return 'unknown';
}

// Describe a libtorch given the folder of its TorchConfig.cmake.
function describe(cmakeDir, source) {
  cmakeDir = path.resolve(cmakeDir);
  // TorchConfig.cmake sits at <root>/share/cmake/Torch (wheel, zip) or <libdir>/cmake/Torch (Debian).
  let root = path.resolve(cmakeDir, '../../..');
  let libDir = path.join(root, 'lib');
  let includeDir = path.join(root, 'include');
  if (!exists(path.join(libDir, 'libc10.so')) && exists(path.join(cmakeDir, '../../libc10.so'))) {
    libDir = path.resolve(cmakeDir, '../..');
    root = path.resolve(libDir, '../..');
    includeDir = path.join(root, 'include');
  }
  const config = fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8');
  const abi = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(config);
  let version = readVersion(cmakeDir, root);
  const libs = fs.existsSync(libDir) ? fs.readdirSync(libDir) : [];
  const cuda = libs.some((f) => /^libtorch_cuda.*\.so/.test(f) || /^libc10_cuda\.so/.test(f));
  // The OpenMP runtime libtorch ships (libgomp.so.1 in wheels, libgomp-<hash>.so.1 in zips): native/core/nn/fused_bn.cc
  // is compiled with -fopenmp and linked to this one, never to a second runtime.
  const gomp = libs.filter((f) => /^libgomp.*\.so/.test(f)).sort()[0];
  return {
    source,
    root,
    cmakeDir,
    libDir,
    includeDirs: [includeDir, path.join(includeDir, 'torch/csrc/api/include'), ...(cuda ? cudaIncludeDirs(root) : [])],
    version,
    cuda,
    cxx11abi: abi ? abi[1] : null,
    openmp: gomp ? path.join(libDir, gomp) : null,
  };
}

// The CUDA runtime's headers for a CUDA libtorch (its CUDA headers include cuda_runtime_api.h): the toolkit
// (CUDA_HOME, /usr/local/cuda) or pip's nvidia-* packages beside a wheel's torch (site-packages/nvidia/*/include).
function cudaIncludeDirs(root) {
  const toolkit = [process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d, 'include'));
  const nvidia = path.resolve(root, '../nvidia');
  const pip = exists(nvidia) ? fs.readdirSync(nvidia).map((d) => path.join(nvidia, d, 'include')) : [];
  const found = [...toolkit, ...pip].filter((d) => exists(path.join(d, 'cuda_runtime_api.h')));
  return found.slice(0, 1);
}

function fromLibtorchEnv() {
  const v = process.env.LIBTORCH;
  if (!v) return null;
  const d = cmakeDirUnder(v);
  if (!d) throw new NotFound(`LIBTORCH=${v} holds no share/cmake/Torch/TorchConfig.cmake (expected an unpacked libtorch folder)`);
  return describe(d, 'LIBTORCH');
}

function fromCmakeEnv() {
  if (process.env.Torch_DIR) {
    const d = cmakeDirUnder(process.env.Torch_DIR);
    if (!d) throw new NotFound(`Torch_DIR=${process.env.Torch_DIR} holds no TorchConfig.cmake`);
    return describe(d, 'Torch_DIR');
  }
  for (const p of (process.env.CMAKE_PREFIX_PATH || '').split(path.delimiter).filter(Boolean)) {
    const d = cmakeDirUnder(p);
    if (d) return describe(d, 'CMAKE_PREFIX_PATH');
  }
  return null;
}

function fromPython() {
  if (process.env.LIBTORCH_USE_PYTORCH === '0') return null;
  const py = process.env.LIBTORCH_PYTHON || 'python3';
  // find_spec locates torch without importing it (importing takes seconds).
  const code = 'import importlib.util as u, os\ns = u.find_spec("torch")\n' +
    'print(os.path.join(list(s.submodule_search_locations)[0], "share", "cmake") if s else "")';
  const r = spawnSync(py, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) return null;
  const d = cmakeDirUnder(r.stdout.trim());
  return d ? describe(d, `python (${py})`) : null;
}

function fromSystem() {
  const env = process.env.RESNET_CIFAR_SYSTEM_PREFIXES;  // for tests: replaces the list below
  const prefixes = env !== undefined ? env.split(path.delimiter).filter(Boolean) : ['/usr/local/libtorch', '/opt/libtorch',
    '/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/share/cmake/Torch',
    '/usr/local/share/cmake/Torch'];
  for (const p of prefixes) {
    const d = cmakeDirUnder(p);
    if (d) return describe(d, 'system');
  }
  return null;
}

function fromLocal() {
  const d = cmakeDirUnder(path.join(LOCAL, 'torch/share/cmake'));
  return d ? describe(d, 'bundled (.libtorch)') : null;
}

function fromCache() {
  let dir;
  try {
    dir = download.plan().dir;
  } catch (e) {
    if (e instanceof download.DownloadError) throw new NotFound(e.message);
    throw e;
  }
  const d = cmakeDirUnder(path.join(dir, 'share/cmake/Torch'));
  return d ? describe(d, 'cache') : null;
}

function hasPip() {
  const py = process.env.LIBTORCH_PYTHON || 'python3';
  const r = spawnSync(py, ['-m', 'pip', '--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function obtainWithPip(log) {
  const py = process.env.LIBTORCH_PYTHON || 'python3';
  const spec = process.env.RESNET_CIFAR_TORCH_SPEC || DEFAULT_SPEC;
  log(`resnet-cifar: no libtorch found; installing ${spec} into ${LOCAL} (pip --target, your Python is untouched)`);
  const r = spawnSync(py, ['-m', 'pip', 'install', '--retries', '0', '--no-deps', '--no-compile',
    '--disable-pip-version-check', '--target', LOCAL, spec], { stdio: ['ignore', 2, 2] });
  if (r.error || r.status !== 0) {
    log(`resnet-cifar: pip could not install ${spec} (${r.error ? r.error.message : 'exit ' + r.status})`);
    return null;
  }
  return fromLocal();
}

const HOW_TO = `resnet-cifar could not find libtorch (2.x). Provide it in one of these ways, then run npm install again:
  - LIBTORCH=/path/to/libtorch      an unpacked libtorch zip from pytorch.org (CPU or CUDA)
  - Torch_DIR=/path/with/TorchConfig.cmake, or CMAKE_PREFIX_PATH=<prefix holding it>
  - python3 -m pip install torch    resnet-cifar then uses python3's torch (LIBTORCH_PYTHON=/path/to/python for another)
  - a system install (/usr/local/libtorch, /opt/libtorch)
  - let the install fetch one itself: with python3 -m pip, a CPU wheel (RESNET_CIFAR_TORCH_SPEC, default
    ${DEFAULT_SPEC}); without it, PyTorch's libtorch archive into ~/.cache/resnet-cifar/libtorch (its SHA-256 from
    RESNET_CIFAR_LIBTORCH_SHA256 or the mirror; RESNET_CIFAR_LIBTORCH_URL for a mirror or a local folder,
    TORCH_CUDA_VERSION=12.6 for a CUDA build)`;

function checkVersion(t) {
  const major = parseInt(t.version, 10);
  if (!(major >= MIN_MAJOR)) {
    throw new NotFound(`resnet-cifar expects libtorch >= ${MIN_MAJOR}.0, got ${t.version} (${t.source}: ${t.root})`);
  }
  return t;
}

/** A libtorch already on this machine (steps 1-6), or NotFound. */
function find() {
  for (const step of [fromLibtorchEnv, fromCmakeEnv, fromPython, fromSystem, fromLocal, fromCache]) {
    const t = step();
    if (t) return checkVersion(t);
  }
  throw new NothingFound(HOW_TO);
}

/** find(), else step 7: pip where python3 has it (and no mirror is named), else PyTorch's archive into the cache. */
async function findOrObtain({ log = (m) => process.stderr.write(m + '\n') } = {}) {
  try {
    return find();
  } catch (e) {
    if (!(e instanceof NothingFound) || process.env.RESNET_CIFAR_NO_DOWNLOAD === '1') throw e;
  }
  if (!process.env.RESNET_CIFAR_LIBTORCH_URL && hasPip()) {
    const t = obtainWithPip(log);
    if (t) return checkVersion(t);
  }
  try {
    await download.fetchLibtorch({ log });
  } catch (e) {
    if (e instanceof download.DownloadError) throw new NotFound(`resnet-cifar: ${e.message}\n\n${HOW_TO}`);
    throw e;
  }
  return find();
}

function summary(t) {
  return `libtorch ${t.version} (${t.cuda ? 'CUDA' : 'CPU only'}) from ${t.source}: ${t.root}`;
}

// Whether distributed training can be built (as CMakeLists.txt decides): c10d's Gloo header in this libtorch and
// gloo's own headers (Debian's libgloo-dev) on the system.
function gloo(t) {
  const c10d = t.includeDirs.some((d) => exists(path.join(d, 'torch/csrc/distributed/c10d/ProcessGroupGloo.hpp')));
  return c10d && ['/usr/include', '/usr/local/include'].some((d) => exists(path.join(d, 'gloo/config.h')));
}

async function main(argv) {
  let t;
  try {
    t = await findOrObtain();
  } catch (e) {
    if (!(e instanceof NotFound)) throw e;
    process.stderr.write(e.message + '\n');
    process.exit(1);
  }
  if (argv[0] === '--json') {
    process.stdout.write(JSON.stringify(t, null, 2) + '\n');
  } else if (argv[0] === '--gyp') {
    const out = {
      libs: ['-L' + t.libDir, '-ltorch', '-ltorch_cpu', '-lc10', ...(t.cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []),
        ...(t.openmp ? [t.openmp] : [])],
      ldflags: ['-Wl,-rpath,' + t.libDir, '-Wl,--no-as-needed'],
      // libtorch's headers as system headers (as CMake's imported target has them): their own warnings are not ours.
      // gyp has no per-file flags: -fopenmp for every source (only fused_bn.cc has OpenMP code); link flags stay
      // without it, so the only OpenMP runtime linked is libtorch's (libs).
      cflags: [...t.includeDirs.flatMap((d) => ['-isystem', d]),
        ...(t.cxx11abi === null ? [] : ['-D_GLIBCXX_USE_CXX11_ABI=' + t.cxx11abi]), ...(t.openmp ? ['-fopenmp'] : [])],
      defines: ['RESNET_CIFAR_GYP=1', ...(t.cuda ? ['RESNET_CIFAR_CUDA=1'] : []),
        // Test hooks only in a checkout with its tests (as CMakeLists.txt decides): not in an installed package.
        ...(fs.existsSync(path.join(ROOT, 'test/native')) ? ['RESNET_CIFAR_TEST_HOOKS=1'] : []),
        ...(gloo(t) ? ['RESNET_CIFAR_GLOO=1', 'USE_C10D_GLOO', 'USE_DISTRIBUTED'] : [])],
    }[argv[1]];
    if (!out) {
      process.stderr.write(`--gyp expects one of libs, ldflags, cflags, defines; got ${argv[1]}\n`);
      process.exit(2);
    }
    process.stdout.write(out.join(' ') + '\n');
  } else {
    process.stdout.write(summary(t) + '\n');
  }
}

module.exports = { find, findOrObtain, summary, NotFound, HOW_TO, gloo };
if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
