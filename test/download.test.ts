import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Cifar10, type DownloadProgress } from '../lib/index';
import { fakeCifarDir, tmpDir } from './helpers';

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A cifar-10-binary.tar.gz-shaped archive of generated data (test split and data_batch_1 only). */
function makeArchive(folder = 'cifar-10-batches-bin'): { file: string; src: string } {
  const src = fakeCifarDir();
  const root = tmpDir();
  fs.mkdirSync(path.join(root, folder), { recursive: true });
  for (const f of ['test_batch.bin', 'data_batch_1.bin']) fs.copyFileSync(path.join(src, f), path.join(root, folder, f));
  fs.writeFileSync(path.join(root, folder, 'batches.meta.txt'), CLASSES.join('\n') + '\n\n');
  const file = path.join(tmpDir(), 'cifar-10-binary.tar.gz');
  execFileSync('tar', ['czf', file, '-C', root, folder]);
  return { file, src };
}

test('load reads a split straight from the .tar.gz, the same as from the folder', async (t) => {
  const { file, src } = makeArchive();
  const a = await Cifar10.load(file, { split: 'test' });
  const b = await Cifar10.load(src, { split: 'test' });
  t.is(a.length, 10_000);
  t.deepEqual(a.classes, CLASSES);
  t.deepEqual(a.labelCounts(), b.labelCounts());
  t.deepEqual(a.images(9990, 10), b.images(9990, 10));
  // The archive has data_batch_1 only: the train split names the first missing member and what the archive holds.
  await t.throwsAsync(Cifar10.load(file, { split: 'train' }), { message: /has no cifar-10-batches-bin\/data_batch_2\.bin \(expected the official cifar-10-binary\.tar\.gz; found: cifar-10-batches-bin/ });
});

test('archives without the folder, truncated or not gzip at all are clear errors', async (t) => {
  const { file } = makeArchive('some-other-folder');
  await t.throwsAsync(Cifar10.load(file, { split: 'test' }), { message: /has no cifar-10-batches-bin\/test_batch\.bin .*found: some-other-folder/ });
  const good = makeArchive().file;
  const cut = path.join(tmpDir(), 'cut.tar.gz');
  const bytes = fs.readFileSync(good);
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await t.throwsAsync(Cifar10.load(cut, { split: 'test' }), { message: /Cannot read .*cut\.tar\.gz as a \.tar\.gz archive/ });
  const junk = path.join(tmpDir(), 'junk.tar.gz');
  fs.writeFileSync(junk, crypto.randomBytes(4096));
  await t.throwsAsync(Cifar10.load(junk, { split: 'test' }), { message: /Cannot read .*junk\.tar\.gz as a \.tar\.gz archive/ });
  // A gzip of something that is not a tar.
  const notTar = path.join(tmpDir(), 'x.tar.gz');
  fs.writeFileSync(notTar, require('node:zlib').gzipSync(Buffer.alloc(2048, 7)));
  await t.throwsAsync(Cifar10.load(notTar, { split: 'test' }), { message: /not a tar archive/ });
  await t.throwsAsync(Cifar10.load(path.join(tmpDir(), 'nope.tar.gz')), { message: /does not exist/ });
});

interface Server {
  url: string;
  requests: { range: string | undefined }[];
  close: () => Promise<void>;
}

/** Serves `body` with Range support; the first `cutFirst` responses stop after `cutAt` bytes. */
async function serve(body: Buffer, cutFirst = 0, cutAt = 0): Promise<Server> {
  const requests: { range: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    if (req.url !== '/cifar-10-binary.tar.gz') {
      res.writeHead(404).end('not here');
      return;
    }
    requests.push({ range: req.headers.range });
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(m ? 206 : 200, { 'content-length': body.length - start, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (requests.length <= cutFirst) {
      res.write(body.subarray(start, start + cutAt), () => res.socket?.destroy());
    } else {
      res.end(body.subarray(start));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

test('download: progress, resume of an interrupted download, md5 check, atomic rename, cache hit', async (t) => {
  const { file } = makeArchive();
  const body = fs.readFileSync(file);
  const md5 = crypto.createHash('md5').update(body).digest('hex');
  const server = await serve(body, 1, 1 << 20);
  const dir = tmpDir();
  try {
    const seen: DownloadProgress[] = [];
    const err = await t.throwsAsync(Cifar10.download({ dir, url: server.url, md5, onProgress: (p) => seen.push(p) }));
    t.regex(err!.message, /was interrupted after \d+ bytes .*run it again to resume/);
    t.false(fs.existsSync(path.join(dir, 'cifar-10-binary.tar.gz')), 'nothing under the final name');
    const partSize = fs.statSync(path.join(dir, 'cifar-10-binary.tar.gz.part')).size;
    t.true(partSize > 0 && partSize < body.length);
    seen.length = 0;
    const got = await Cifar10.download({ dir, url: server.url, md5, onProgress: (p) => seen.push(p) });
    t.is(got, path.join(dir, 'cifar-10-binary.tar.gz'));
    t.is(server.requests[1].range, `bytes=${partSize}-`, 'the second request asked for the rest only');
    t.true(seen.length > 0 && seen.every((p) => p.resumed && p.total === body.length));
    t.is(seen[seen.length - 1].received, body.length);
    t.true(fs.readFileSync(got).equals(body));
    t.deepEqual(fs.readdirSync(dir), ['cifar-10-binary.tar.gz']);
    // Cached and verified: no request at all.
    await Cifar10.download({ dir, url: server.url, md5 });
    t.is(server.requests.length, 2);
    const data = await Cifar10.load(got, { split: 'test' });
    t.is(data.length, 10_000);
  } finally {
    await server.close();
  }
});

test('download: a wrong checksum fails naming both and leaves nothing behind; HTTP errors and bad options', async (t) => {
  const body = crypto.randomBytes(300_000);
  const server = await serve(body);
  const dir = tmpDir();
  try {
    const wrong = '0'.repeat(32);
    const actual = crypto.createHash('md5').update(body).digest('hex');
    await t.throwsAsync(Cifar10.download({ dir, url: server.url, md5: wrong }), {
      message: `Checksum mismatch for ${server.url}: expected md5 ${wrong}, got ${actual} (the download was removed)`,
    });
    t.deepEqual(fs.readdirSync(dir), []);
    await t.throwsAsync(Cifar10.download({ dir, url: server.url.replace('cifar-10-binary', 'other'), md5: actual }), { message: /HTTP 404/ });
    await t.throwsAsync(Cifar10.download({ dir, url: 'ftp://example.com/x.tar.gz' }), { instanceOf: TypeError, message: /http\(s\) URL/ });
    await t.throwsAsync(Cifar10.download({ dir, md5: 'xyz' }), { instanceOf: RangeError, message: /md5 to be 32 hex digits/ });
    await t.throwsAsync(Cifar10.download({ dir, bogus: 1 } as never), { message: /Unknown option 'bogus'/ });
  } finally {
    await server.close();
  }
});

test.serial('locate: an explicit source first, then CIFAR10_DIR, then the cache, else an error listing the ways', async (t) => {
  t.is(await Cifar10.locate({ source: '/x/y' }), '/x/y');
  const saved = process.env.CIFAR10_DIR;
  const cache = tmpDir();
  try {
    process.env.CIFAR10_DIR = '/from/env';
    t.is(await Cifar10.locate(), '/from/env');
    delete process.env.CIFAR10_DIR;
    fs.writeFileSync(path.join(cache, 'cifar-10-binary.tar.gz'), 'x');
    t.is(await Cifar10.locate({ download: { dir: cache } }), path.join(cache, 'cifar-10-binary.tar.gz'));
    const empty = tmpDir();
    const saveCache = process.env.RESNET_CIFAR_CACHE;
    process.env.RESNET_CIFAR_CACHE = empty;
    try {
      await t.throwsAsync(Cifar10.locate(), { message: /No CIFAR-10 data: pass the cifar-10-batches-bin folder .*set CIFAR10_DIR/ });
    } finally {
      if (saveCache === undefined) delete process.env.RESNET_CIFAR_CACHE;
      else process.env.RESNET_CIFAR_CACHE = saveCache;
    }
  } finally {
    if (saved === undefined) delete process.env.CIFAR10_DIR;
    else process.env.CIFAR10_DIR = saved;
  }
});
