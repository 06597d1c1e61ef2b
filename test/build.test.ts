// The build itself: one libtorch behind every torch library, both build files in sync, the finder's order.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { info } from '../lib/index';
import { PYTHON, requires, ROOT, tmpDir } from './helpers';

const FINDER = path.join(ROOT, 'scripts/build/libtorch.js');

test('every torch library the addon links resolves into the one libtorch that was chosen', (t) => {
  const addon = info().addon.path;
  const chosen = JSON.parse(execFileSync(process.execPath, [FINDER, '--json'], { encoding: 'utf8' }));
  const ldd = execFileSync('ldd', [addon], { encoding: 'utf8' });
  const torchLibs = ldd.split('\n').filter((l) => /lib(torch|c10|shm|caffe2)[^ ]*\.so/.test(l));
  t.true(torchLibs.length >= 3, ldd);
  for (const l of torchLibs) {
    const m = /=>\s+(\S+)/.exec(l);
    t.truthy(m, `unresolved: ${l}`);
    t.is(path.dirname(fs.realpathSync(m![1])), fs.realpathSync(chosen.libDir), l.trim());
  }
  // And what is actually loaded in this process is the same libtorch.
  t.is(fs.realpathSync(info().libtorch.path), fs.realpathSync(chosen.libDir));
  t.is(info().libtorch.version, chosen.version);
});

test('both builds compile what scripts/build/sources.js plans, and the plan covers every native source exactly once', (t) => {
  const gyp = fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  const targets = JSON.parse(gyp).targets as { target_name: string; sources: string[]; dependencies?: string[] }[];
  const addon = targets.find((x) => x.target_name === 'resnet_cifar');
  t.deepEqual(addon?.sources, ['<!@(node scripts/build/sources.js --write build/unity)']);
  t.regex(fs.readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8'), /COMMAND node scripts\/build\/sources\.js/);
  // The vendored JPEG decompressor: its own static library in both builds, from the one list, every file there.
  t.deepEqual(targets.find((x) => x.target_name === 'resnet_cifar_jpeg')?.sources, ['<!@(node scripts/build/sources.js --jpeg)']);
  t.deepEqual(addon?.dependencies, ['resnet_cifar_jpeg']);
  t.regex(fs.readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8'), /COMMAND node scripts\/build\/sources\.js --jpeg/);
  const { sources, plan, JPEG_FILES } = require(path.join(ROOT, 'scripts/build/sources.js'));
  t.true((JPEG_FILES as string[]).length > 40 && (JPEG_FILES as string[]).every((f) => fs.existsSync(path.join(ROOT, f))), 'the JPEG files exist');
  const onDisk = execFileSync('find', [path.join(ROOT, 'native'), '-name', '*.cc'], { encoding: 'utf8' }).trim().split('\n').sort();
  t.deepEqual(sources(), onDisk);
  const p = plan() as { groups: { name: string; files: string[] }[]; alone: string[] };
  const planned = [...p.groups.flatMap((g) => g.files), ...p.alone].sort();
  t.deepEqual(planned, onDisk);
  t.deepEqual(p.alone.map((f) => path.relative(ROOT, f)), ['native/core/nn/fused_bn.cc']); // its #pragma GCC optimize stays its own
  // The generated units include their folder's files, and the unit list names them and the lone files.
  const dir = tmpDir('unity-');
  const units = execFileSync(process.execPath, [path.join(ROOT, 'scripts/build/sources.js'), '--write', dir], { encoding: 'utf8' }).trim().split('\n');
  t.deepEqual(units, [...p.groups.map((g) => path.join(dir, `${g.name}.cc`)), ...p.alone]);
  for (const g of p.groups) {
    const text = fs.readFileSync(path.join(dir, `${g.name}.cc`), 'utf8');
    const included = [...text.matchAll(/#include "([^"]+)"/g)].map((m) => path.resolve(dir, m[1]));
    t.deepEqual(included, g.files);
  }
});

test('layering: native/core is plain libtorch code that never includes napi.h; only native/napi does', (t) => {
  const core = path.join(ROOT, 'native/core');
  const files = (fs.readdirSync(core, { recursive: true }) as string[]).filter((f) => /\.(cc|h)$/.test(f));
  t.true(files.length >= 40, 'native/core read');
  for (const f of files) {
    const text = fs.readFileSync(path.join(core, f), 'utf8');
    t.false(/#include\s*[<"](napi\.h|(\.\.\/)+napi\/)/.test(text), `${f} includes N-API`);
  }
  const napi = fs.readdirSync(path.join(ROOT, 'native/napi'));
  t.true(napi.every((f) => /\.(cc|h)$/.test(f)));
  t.true(napi.some((f) => fs.readFileSync(path.join(ROOT, 'native/napi', f), 'utf8').includes('#include <napi.h>')));
});

test('the compiled package loads from plain Node (dist/, CommonJS)', (t) => {
  t.true(fs.existsSync(path.join(ROOT, 'dist/index.js')), 'run `npm run build` (npm test does) first');
  t.true(fs.existsSync(path.join(ROOT, 'dist/index.d.ts')));
  const out = execFileSync(process.execPath, ['-e',
    "const r = require(process.argv[1]); const m = new r.ResNet({ depth: 20 }); console.log(m.parameterCount)",
    path.join(ROOT, 'dist/index.js')], { encoding: 'utf8' });
  t.is(out.trim(), '269722');
});

function fakeLibtorch(version: string): string {
  const root = tmpDir('fake-libtorch-');
  fs.mkdirSync(path.join(root, 'share/cmake/Torch'), { recursive: true });
  fs.mkdirSync(path.join(root, 'lib'));
  fs.mkdirSync(path.join(root, 'include'));
  fs.writeFileSync(path.join(root, 'share/cmake/Torch/TorchConfig.cmake'), '# fake\n');
  fs.writeFileSync(path.join(root, 'share/cmake/Torch/TorchConfigVersion.cmake'), `set(PACKAGE_VERSION "${version}")\n`);
  fs.writeFileSync(path.join(root, 'lib/libc10.so'), '');
  return root;
}

function finder(env: Record<string, string | undefined>, ...args: string[]) {
  const e = { ...process.env, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  return spawnSync(process.execPath, [FINDER, ...args], { env: e as NodeJS.ProcessEnv, encoding: 'utf8' });
}

test('finder: LIBTORCH wins, and reports version and CUDA', (t) => {
  const root = fakeLibtorch('2.5.1');
  fs.writeFileSync(path.join(root, 'lib/libtorch_cuda.so'), '');
  const r = finder({ LIBTORCH: root }, '--json');
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.like(j, { source: 'LIBTORCH', root, version: '2.5.1', cuda: true, libDir: path.join(root, 'lib') });
  t.regex(finder({ LIBTORCH: root }).stdout, /libtorch 2\.5\.1 \(CUDA\) from LIBTORCH/);
});

test('finder: Torch_DIR and CMAKE_PREFIX_PATH come next', (t) => {
  const root = fakeLibtorch('2.4.0');
  const a = JSON.parse(finder({ LIBTORCH: undefined, Torch_DIR: path.join(root, 'share/cmake/Torch') }, '--json').stdout);
  t.like(a, { source: 'Torch_DIR', root, cuda: false });
  const b = JSON.parse(finder({ LIBTORCH: undefined, Torch_DIR: undefined, CMAKE_PREFIX_PATH: `/nonexistent:${root}` }, '--json').stdout);
  t.like(b, { source: 'CMAKE_PREFIX_PATH', root });
});

test('finder: a LIBTORCH without TorchConfig.cmake, or libtorch 1.x, is an error saying what it expects', (t) => {
  const bad = finder({ LIBTORCH: tmpDir() });
  t.is(bad.status, 1);
  t.regex(bad.stderr, /holds no share\/cmake\/Torch\/TorchConfig\.cmake/);
  const old = fakeLibtorch('1.13.1');
  const r = finder({ LIBTORCH: old });
  t.is(r.status, 1);
  t.regex(r.stderr, new RegExp(`resnet-cifar expects libtorch >= 2\\.0, got 1\\.13\\.1 \\(LIBTORCH: ${old}\\)`));
});

test('finder: with nothing to be found and no download, the error lists the ways to provide libtorch', (t) => {
  const r = finder({
    LIBTORCH: undefined, Torch_DIR: undefined, CMAKE_PREFIX_PATH: undefined, LIBTORCH_USE_PYTORCH: '0',
    RESNET_CIFAR_NO_DOWNLOAD: '1', RESNET_CIFAR_SYSTEM_PREFIXES: '', RESNET_CIFAR_LOCAL_DIR: tmpDir(),
    RESNET_CIFAR_LIBTORCH_CACHE: tmpDir(),
  });
  t.is(r.status, 1);
  for (const s of ['LIBTORCH=', 'Torch_DIR=', 'pip install torch', 'system install']) t.true(r.stderr.includes(s), s);
});

const pythonTorch = spawnSync(PYTHON, ['-c', 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("torch") else 1)']).status === 0;
requires(pythonTorch, `${PYTHON} with torch`, 'python3 -m pip install torch==2.13.0+cpu')('finder: python3\'s torch is found without importing it', (t) => {
  const r = finder({ LIBTORCH: undefined, Torch_DIR: undefined, CMAKE_PREFIX_PATH: undefined, LIBTORCH_PYTHON: PYTHON }, '--json');
  t.is(r.status, 0, r.stderr);
  t.true(JSON.parse(r.stdout).source.startsWith('python'), r.stdout);
  t.regex(JSON.parse(r.stdout).cmakeDir, /torch\/share\/cmake\/Torch$/);
});

test('finder: obtains a CPU wheel into the package folder (pip --target) when nothing else is found', (t) => {
  // Uses a stub pip (a fake python3) so the test neither downloads nor touches any Python.
  const bin = tmpDir('fake-python-');
  const local = tmpDir('local-libtorch-');
  fs.writeFileSync(path.join(bin, 'python3'), `#!/bin/sh
# answers pip --version; records an install's arguments, then lays out a torch wheel's files where --target points
[ "$3" = "--version" ] && exit 0
echo "$@" > "${bin}/args"
while [ $# -gt 0 ]; do if [ "$1" = "--target" ]; then T="$2"; fi; shift; done
mkdir -p "$T/torch/share/cmake/Torch" "$T/torch/lib" "$T/torch/include"
echo '# fake' > "$T/torch/share/cmake/Torch/TorchConfig.cmake"
echo 'set(PACKAGE_VERSION "2.13.0")' > "$T/torch/share/cmake/Torch/TorchConfigVersion.cmake"
: > "$T/torch/lib/libc10.so"
`, { mode: 0o755 });
  const r = finder({
    LIBTORCH: undefined, Torch_DIR: undefined, CMAKE_PREFIX_PATH: undefined, LIBTORCH_USE_PYTORCH: '0',
    LIBTORCH_PYTHON: path.join(bin, 'python3'), RESNET_CIFAR_SYSTEM_PREFIXES: '', RESNET_CIFAR_LOCAL_DIR: local,
    RESNET_CIFAR_LIBTORCH_CACHE: tmpDir(), RESNET_CIFAR_LIBTORCH_URL: undefined,
  }, '--json');
  t.is(r.status, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { source: 'bundled (.libtorch)', version: '2.13.0', root: path.join(local, 'torch') });
  const args = fs.readFileSync(path.join(bin, 'args'), 'utf8');
  t.regex(args, /-m pip install .*--target .* torch==2\.13\.0\+cpu/);
  t.regex(r.stderr, /your Python is untouched/);
});
