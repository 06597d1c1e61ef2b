// libtorch without Python: with no libtorch on the machine and no `python3 -m pip`, npm install downloads PyTorch's
// libtorch archive, checks its SHA-256, unpacks it into the per-user cache and builds against it. The archive is made
// here from the local wheel's libtorch (the same layout as pytorch.org's zip) and served on 127.0.0.1.
import test from 'ava';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { launch, PYTHON, tmpDir, withPython } from './helpers';
import { MINUTE, freshProject, npmInstall, pack, run, userEnv } from './helpers/packed';

const VERSION = '2.13.0';
const ARCHIVE = `libtorch-shared-with-deps-${VERSION}+cpu.zip`;
const FINDER = 'scripts/build/libtorch.js';

// A zip of libtorch/{lib,include,share,build-version} from python3's torch, stored (not deflated: quick to make).
const MAKE_ARCHIVE = `
import os, sys, zipfile, torch
root = os.path.dirname(torch.__file__)
libs = ['libc10.so', 'libtorch.so', 'libtorch_cpu.so', 'libtorch_global_deps.so', 'libshm.so', 'libgomp.so.1']
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr('libtorch/build-version', torch.__version__ + '\\n')
    for name in libs:
        p = os.path.join(root, 'lib', name)
        if os.path.exists(p):
            z.write(p, 'libtorch/lib/' + name)
    for top in ('include', 'share'):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                p = os.path.join(d, f)
                z.write(p, 'libtorch/' + os.path.relpath(p, root))
`;

interface Server { url: string; requests: { path: string; range?: string }[]; cutAfter?: number; close(): void }

/** Serves dir's files under /cpu/ with HTTP Range; cutAfter closes the next response's connection after that many bytes. */
async function serve(dir: string): Promise<Server> {
  const s: Server = { url: '', requests: [], close: () => server.close() };
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/cpu\//, ''));
    s.requests.push({ path: req.url ?? '', range: req.headers.range });
    const file = path.join(dir, path.basename(name));
    if (!req.url?.startsWith('/cpu/') || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const size = fs.statSync(file).size;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= size && m) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'Content-Length': size - start, ...(m ? { 'Content-Range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    const cut = s.cutAfter;
    s.cutAfter = undefined;
    const stream = fs.createReadStream(file, { start, end: cut === undefined ? undefined : start + cut - 1 });
    stream.pipe(res, { end: cut === undefined });
    if (cut !== undefined) stream.on('end', () => res.socket?.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}

/** Nothing to be found on this machine, and Python hidden: only the download can provide libtorch. */
function noLibtorch(cache: string, extra: Record<string, string | undefined> = {}) {
  return userEnv({
    LIBTORCH: undefined, Torch_DIR: undefined, CMAKE_PREFIX_PATH: undefined, LIBTORCH_PYTHON: '/nonexistent/python3',
    RESNET_CIFAR_SYSTEM_PREFIXES: '', RESNET_CIFAR_LOCAL_DIR: tmpDir('no-local-libtorch-'),
    RESNET_CIFAR_LIBTORCH_CACHE: cache, TORCH_CUDA_VERSION: undefined, ...extra,
  });
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

let archive: Promise<{ dir: string; file: string; sha: string }> | undefined;
function makeArchive() {
  archive ??= (async () => {
    const dir = tmpDir('libtorch-archive-');
    const file = path.join(dir, ARCHIVE);
    await run(PYTHON, ['-c', MAKE_ARCHIVE, file], { timeout: 10 * MINUTE });
    fs.writeFileSync(`${file}.sha256`, `${sha256(file)}  ${ARCHIVE}\n`);
    return { dir, file, sha: sha256(file) };
  })();
  return archive;
}

withPython([], test.serial)('an interrupted download resumes where it stopped, and a wrong SHA-256 is an error naming both', async (t) => {
  t.timeout(20 * MINUTE);
  const a = await makeArchive();
  const server = await serve(a.dir);
  try {
    const cache = tmpDir('libtorch-cache-');
    const wrong = '0'.repeat(64);
    const env = noLibtorch(cache, { RESNET_CIFAR_LIBTORCH_URL: server.url, RESNET_CIFAR_LIBTORCH_SHA256: wrong });
    server.cutAfter = 32 << 20;
    const first = await launch(process.execPath, [FINDER, '--json'], env).done;
    t.is(first.code, 1);
    t.regex(first.stderr, /stopped .*run npm install again to resume from .*\.part/);
    const part = path.join(cache, `${ARCHIVE}.part`);
    const got = fs.statSync(part).size;
    t.true(got > 0 && got <= 32 << 20, `${got} bytes before the cut`);
    const second = await launch(process.execPath, [FINDER, '--json'], env).done;
    t.is(second.code, 1);
    t.deepEqual(server.requests.map((r) => r.range), [undefined, `bytes=${got}-`], 'the second request resumes');
    t.true(second.stderr.includes(`SHA-256 mismatch: expected ${wrong} (RESNET_CIFAR_LIBTORCH_SHA256), got ${a.sha}`), second.stderr);
    t.false(fs.existsSync(part), 'the damaged download is removed');
    t.false(fs.existsSync(path.join(cache, `${VERSION}-cpu`)), 'nothing is unpacked from an unverified archive');
  } finally {
    server.close();
  }
});

withPython([], test.serial)('offline: a local folder as the mirror serves the archive and its checksum file', async (t) => {
  t.timeout(10 * MINUTE);
  const a = await makeArchive();
  const mirror = tmpDir('libtorch-mirror-');
  fs.mkdirSync(path.join(mirror, 'cpu'));
  for (const f of [ARCHIVE, `${ARCHIVE}.sha256`]) fs.linkSync(path.join(a.dir, f), path.join(mirror, 'cpu', f));
  const cache = tmpDir('libtorch-cache-');
  try {
    const r = await launch(process.execPath, [FINDER, '--json'], noLibtorch(cache, { RESNET_CIFAR_LIBTORCH_URL: mirror })).done;
    t.is(r.code, 0, r.stderr);
    t.like(JSON.parse(r.stdout), { source: 'cache', version: VERSION, root: path.join(cache, `${VERSION}-cpu`), cuda: false });
  } finally {
    fs.rmSync(mirror, { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test('the archive for a variant and version: pytorch.org by default, a mirror or folder by URL, CUDA by TORCH_CUDA_VERSION', (t) => {
  const { plan } = require('../scripts/build/libtorch-download.js') as { plan(env: NodeJS.ProcessEnv): { url: string; dir: string } };
  t.like(plan({ RESNET_CIFAR_LIBTORCH_CACHE: '/c' }), {
    url: `https://download.pytorch.org/libtorch/cpu/libtorch-shared-with-deps-${VERSION}%2Bcpu.zip`, dir: `/c/${VERSION}-cpu`,
  });
  t.like(plan({ RESNET_CIFAR_LIBTORCH_CACHE: '/c', TORCH_CUDA_VERSION: '12.6', RESNET_CIFAR_LIBTORCH_URL: 'https://mirror.example/lt/' }), {
    url: `https://mirror.example/lt/cu126/libtorch-shared-with-deps-${VERSION}%2Bcu126.zip`, dir: `/c/${VERSION}-cu126`,
  });
  t.like(plan({ RESNET_CIFAR_LIBTORCH_CACHE: '/c', TORCH_CUDA_VERSION: 'cu128', RESNET_CIFAR_LIBTORCH_URL: '/srv/mirror' }), {
    url: `file:///srv/mirror/cu128/libtorch-shared-with-deps-${VERSION}+cu128.zip`,
  });
  t.like(plan({ XDG_CACHE_HOME: '/x' }), { dir: `/x/resnet-cifar/libtorch/${VERSION}-cpu` });
  t.throws(() => plan({ TORCH_CUDA_VERSION: 'twelve' }), { message: /TORCH_CUDA_VERSION=twelve is not a CUDA version/ });
});

withPython([], test.serial)('without Python, npm install fetches, verifies, caches and links libtorch; a second install makes no request', async (t) => {
  t.timeout(40 * MINUTE);
  const a = await makeArchive();
  const server = await serve(a.dir);
  const dir = tmpDir('resnet-cifar-nopython-');
  try {
    const p = await pack(dir);
    const app = freshProject(path.join(dir, 'app'));
    const cache = path.join(dir, 'cache');
    // The checksum comes from the mirror's .sha256 beside the archive.
    const env = noLibtorch(cache, { RESNET_CIFAR_LIBTORCH_URL: server.url });
    const first = await npmInstall(app, [p.tarball], env);
    const unpacked = path.join(cache, `${VERSION}-cpu`);
    t.deepEqual(server.requests.map((r) => r.path), [`/cpu/${encodeURIComponent(ARCHIVE)}.sha256`, `/cpu/${encodeURIComponent(ARCHIVE)}`]);
    t.true(fs.existsSync(path.join(unpacked, 'share/cmake/Torch/TorchConfig.cmake')));
    t.false(fs.existsSync(path.join(cache, ARCHIVE)), 'the archive is removed once unpacked');
    t.regex(first.stderr + first.stdout, new RegExp(`using libtorch ${VERSION.replace(/\./g, '\\.')} \\(CPU only\\) from cache: ${unpacked}`));
    // The addon runs on the cached libtorch: its torch libraries are mapped from there.
    const code = `const { ResNet } = require('resnet-cifar');
      new ResNet({ depth: 20 }).predict(new Float32Array(3072)).then((l) => {
        const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((s) => /libtorch_cpu\\.so/.test(s));
        console.log(JSON.stringify({ n: l.length, lib: maps[0].split(/\\s+/).pop() }));
      });`;
    const out = JSON.parse((await run(process.execPath, ['-e', code], { cwd: app, env })).stdout);
    t.deepEqual(out, { n: 10, lib: path.join(fs.realpathSync(unpacked), 'lib/libtorch_cpu.so') });
    // A second install (npm rebuild runs the package's install again) finds the cache and asks the server nothing.
    const before = server.requests.length;
    const second = await run('npm', ['rebuild', 'resnet-cifar', '--foreground-scripts'], { cwd: app, env, maxBuffer: 256 << 20, timeout: 30 * MINUTE });
    t.is(server.requests.length, before, 'the second install made a request');
    t.regex(second.stderr + second.stdout, /from cache: /);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.after.always(async () => {
  const a = await archive?.catch(() => undefined);
  if (a) fs.rmSync(a.dir, { recursive: true, force: true });
});
