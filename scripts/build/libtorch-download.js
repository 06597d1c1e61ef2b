'use strict';
// PyTorch's own libtorch archive, for a machine with no libtorch and no `python3 -m pip`: downloaded (resumably, over
// HTTP Range), its SHA-256 checked, unpacked into a per-user cache that every project shares, and found there by
// scripts/build/libtorch.js on later installs without a request.
//
//   RESNET_CIFAR_LIBTORCH_URL     base URL (default https://download.pytorch.org/libtorch): a mirror, or a folder /
//                                 file:// URL for offline installs. The archive is <base>/<variant>/<file>.
//   TORCH_CUDA_VERSION            a CUDA build instead of the CPU one, as tch-rs takes it: 12.6 or cu126
//   RESNET_CIFAR_LIBTORCH_SHA256  the archive's SHA-256 (else libtorch-archives.json's pinned one, else the mirror's
//                                 <file>.sha256; with none of these the download is refused)
//   RESNET_CIFAR_LIBTORCH_CACHE   the cache (default $XDG_CACHE_HOME/resnet-cifar/libtorch, ~/.cache/…)
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL, fileURLToPath } = require('url');

const VERSION = '2.13.0';
const DEFAULT_BASE = 'https://download.pytorch.org/libtorch';
const PINNED = require('./libtorch-archives.json');
// The one resumable download (lib/base/resumable-download.js): from lib/ in a clone (dist/ is not built yet at install
// time), from dist/base/ in the packed package (which ships dist/, not lib/).
// Loaded when a download starts: the finder (libtorch.js) requires this file on every build.
let loaded;
function transferModule() {
  if (!loaded) {
    const lib = path.join(__dirname, '../../lib/base/resumable-download.js');
    loaded = require(fs.existsSync(lib) ? lib : path.join(__dirname, '../../dist/base/resumable-download.js'));
  }
  return loaded;
}
const transfer = {
  get: (...a) => transferModule().get(...a),
  resumeInto: (...a) => transferModule().resumeInto(...a),
};

class DownloadError extends Error {}

function cacheRoot(env = process.env) {
  if (env.RESNET_CIFAR_LIBTORCH_CACHE) return path.resolve(env.RESNET_CIFAR_LIBTORCH_CACHE);
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'resnet-cifar', 'libtorch');
}

/** cpu, or cuXYZ from TORCH_CUDA_VERSION (12.6, cu126, 126). */
function variant(env = process.env) {
  const v = (env.TORCH_CUDA_VERSION || '').trim().toLowerCase();
  if (v === '' || v === 'cpu') return 'cpu';
  const m = /^(?:cu)?(\d{2})\.?(\d)$/.exec(v);
  if (!m) throw new DownloadError(`TORCH_CUDA_VERSION=${env.TORCH_CUDA_VERSION} is not a CUDA version (expected e.g. 12.6 or cu126)`);
  return `cu${m[1]}${m[2]}`;
}

/** Where this version and variant is (or will be) unpacked, and the archive to fetch for it. */
function plan(env = process.env) {
  const v = variant(env);
  const file = `libtorch-shared-with-deps-${VERSION}+${v}.zip`;
  const base = (env.RESNET_CIFAR_LIBTORCH_URL || DEFAULT_BASE).replace(/\/+$/, '');
  const url = /^[a-z][a-z0-9+.-]*:/i.test(base) && !/^[a-z]:[\\/]/i.test(base)
    ? `${base}/${v}/${encodeURIComponent(file)}` : pathToFileURL(path.join(path.resolve(base), v, file)).toString();
  const root = cacheRoot(env);
  return { version: VERSION, variant: v, file, url, root, dir: path.join(root, `${VERSION}-${v}`) };
}

async function get(url, headers) {
  try {
    return await transfer.get(url, headers);
  } catch (e) {
    throw new DownloadError(`cannot fetch ${url}: ${e.message}`);
  }
}

/** A small text file (a .sha256 beside the archive), or null when the server has none. */
async function fetchText(url) {
  if (url.startsWith('file:')) {
    try {
      return fs.readFileSync(fileURLToPath(url), 'utf8');
    } catch {
      return null;
    }
  }
  const res = await get(url, {});
  if (res.statusCode !== 200) {
    res.resume();
    return null;
  }
  let text = '';
  for await (const chunk of res) {
    text += chunk;
    if (text.length > 4096) throw new DownloadError(`${url} is not a checksum file (over 4 KB)`);
  }
  return text;
}

/** The SHA-256 the archive must have, and where it came from. */
async function expectedSha256(p, env) {
  const given = env.RESNET_CIFAR_LIBTORCH_SHA256;
  let sha = given, from = 'RESNET_CIFAR_LIBTORCH_SHA256';
  if (!sha && PINNED[p.file]) [sha, from] = [PINNED[p.file], 'scripts/build/libtorch-archives.json'];
  if (!sha) {
    const text = await fetchText(`${p.url}.sha256`);
    if (text) [sha, from] = [text.trim().split(/\s+/)[0], `${p.url}.sha256`];
  }
  if (!sha) {
    throw new DownloadError(`no SHA-256 is known for ${p.file}, so it is not downloaded: set RESNET_CIFAR_LIBTORCH_SHA256 ` +
      `to the archive's checksum, or serve ${p.file}.sha256 beside it on the mirror (RESNET_CIFAR_LIBTORCH_URL)`);
  }
  sha = sha.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new DownloadError(`the SHA-256 from ${from} is not 64 hex digits: ${sha}`);
  return { sha, from };
}

/** Downloads url into part, continuing a part left by an interrupted download. */
async function fetchInto(url, part, log) {
  if (url.startsWith('file:')) {
    const src = fileURLToPath(url);
    if (!fs.existsSync(src)) throw new DownloadError(`${src} does not exist (RESNET_CIFAR_LIBTORCH_URL)`);
    fs.copyFileSync(src, part);
    return;
  }
  try {
    await transfer.resumeInto(url, part, {
      onStart: ({ offset, total }) => log(`resnet-cifar: ${offset > 0 ? `resuming at ${(offset / 1e6).toFixed(0)} MB` : 'downloading'} ${url}` +
        (total ? ` (${(total / 1e6).toFixed(0)} MB)` : '')),
    });
  } catch (e) {
    if (e.kind === 'interrupted') {
      throw new DownloadError(`downloading ${url} stopped (${e.message}); run npm install again to resume from ${part}`);
    }
    throw new DownloadError(`cannot fetch ${url}: ${e.message}`);
  }
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file).on('error', reject).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex')));
  });
}

/** Unpacks the archive's libtorch/ folder into dir (entries outside it, absolute or with .. are refused). */
function unzip(zip, dir) {
  const yauzl = require('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(zip, { lazyEntries: true, strictFileNames: true }, (err, z) => {
      if (err) return reject(new DownloadError(`${zip} is not a zip archive: ${err.message}`));
      const done = (e) => {
        z.close();
        if (e) reject(e instanceof DownloadError ? e : new DownloadError(`unpacking ${zip}: ${e.message}`));
        else resolve();
      };
      z.on('error', done).on('end', () => done()).on('entry', (entry) => {
        const name = entry.fileName;
        const parts = name.split('/');
        if (parts[0] !== 'libtorch' || parts.some((s) => s === '..' || s === '.') || path.isAbsolute(name)) {
          return done(new DownloadError(`${zip}: entry ${JSON.stringify(name)} is outside libtorch/`));
        }
        const target = path.join(dir, ...parts.slice(1));
        if (name.endsWith('/')) {
          fs.mkdirSync(target, { recursive: true });
          return z.readEntry();
        }
        const mode = (entry.externalFileAttributes >>> 16) & 0o170777;
        fs.mkdirSync(path.dirname(target), { recursive: true });
        z.openReadStream(entry, (e, stream) => {
          if (e) return done(e);
          if ((mode & 0o170000) === 0o120000) { // a symbolic link: its target is the entry's content
            let link = '';
            stream.on('data', (c) => { link += c; }).on('error', done).on('end', () => {
              if (path.isAbsolute(link) || !path.resolve(path.dirname(target), link).startsWith(dir + path.sep)) {
                return done(new DownloadError(`${zip}: link ${name} points outside libtorch/`));
              }
              fs.symlinkSync(link, target);
              z.readEntry();
            });
            return;
          }
          const out = fs.createWriteStream(target, { mode: (mode & 0o777) || 0o644 });
          stream.on('error', done);
          out.on('error', done).on('finish', () => z.readEntry());
          stream.pipe(out);
        });
      });
      z.readEntry();
    });
  });
}

/**
 * Makes sure libtorch (this version and variant) is unpacked in the cache and returns its folder: downloads,
 * verifies and unpacks it when it is not there yet. The folder appears only once complete (renamed into place).
 */
async function fetchLibtorch({ env = process.env, log = (m) => process.stderr.write(m + '\n') } = {}) {
  const p = plan(env);
  if (fs.existsSync(path.join(p.dir, 'share/cmake/Torch/TorchConfig.cmake'))) return p.dir;
  fs.mkdirSync(p.root, { recursive: true });
  const { sha, from } = await expectedSha256(p, env);
  const zip = path.join(p.root, p.file);
  const part = zip + '.part';
  if (!fs.existsSync(zip)) {
    await fetchInto(p.url, part, log);
    const got = await sha256File(part);
    if (got !== sha) {
      fs.rmSync(part, { force: true });
      throw new DownloadError(`${p.url}: SHA-256 mismatch: expected ${sha} (${from}), got ${got}; the download was ` +
        'removed (a damaged download, or a mirror serving another file)');
    }
    fs.renameSync(part, zip);
  }
  const tmp = `${p.dir}.unpacking-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`resnet-cifar: unpacking ${p.file} into ${p.dir}`);
  try {
    await unzip(zip, tmp);
    if (!fs.existsSync(path.join(tmp, 'share/cmake/Torch/TorchConfig.cmake'))) {
      throw new DownloadError(`${p.file} holds no libtorch/share/cmake/Torch/TorchConfig.cmake: not a libtorch archive`);
    }
    fs.renameSync(tmp, p.dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e.code === 'ENOTEMPTY' || e.code === 'EEXIST') return p.dir; // another install unpacked it meanwhile
    throw e;
  }
  fs.rmSync(zip, { force: true });
  return p.dir;
}

module.exports = { fetchLibtorch, plan, cacheRoot, variant, DownloadError, VERSION };
