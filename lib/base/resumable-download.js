'use strict';
// One resumable HTTP(S) download, shared by CIFAR-10's download (download.ts) and the libtorch fetch at install time
// (scripts/build/libtorch-download.js). Plain JavaScript, so that the install script can run it from lib/ in a clone
// before dist/ is built, and from dist/base/ (tsc copies it, allowJs) in the packed package: GET with redirects, continuing a `.part` file over HTTP Range
// (`bytes=N-`), and a failure that leaves on disk exactly the bytes it reported, so a resume asks for the rest from
// the file's real end. Callers check the whole file's checksum and rename it into place; they word the errors.
const fs = require('fs');
const http = require('http');
const https = require('https');

/** A failed transfer: kind 'url' (not http(s)), 'http' (status), 'network' (no response) or 'interrupted'. */
class TransferError extends Error {
  constructor(kind, message, extra = {}) {
    super(message);
    this.kind = kind;
    Object.assign(this, extra);
  }
}

/** GET `url` (following up to `redirects` redirects); resolves with the response, whatever its status. */
function get(url, headers = {}, { signal, redirects = 5 } = {}) {
  return new Promise((resolve, reject) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      reject(new TransferError('url', `not a URL: ${url}`));
      return;
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!lib) {
      reject(new TransferError('url', `not an http(s) URL: ${url}`));
      return;
    }
    const req = lib.get(u, { headers, signal }, (res) => {
      const code = res.statusCode || 0;
      if (code >= 300 && code < 400 && res.headers.location && redirects > 0) {
        res.resume();
        get(new URL(res.headers.location, u).toString(), headers, { signal, redirects: redirects - 1 }).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', (e) => reject(e.name === 'AbortError' ? e : new TransferError('network', e.message)));
  });
}

/**
 * Downloads `url` into `part`, continuing what `part` already holds. `onStart({ offset, total, resumed })` is called
 * once the response is in, `onProgress({ received, total, resumed })` per chunk. Resolves with
 * { resumed, offset, total, complete } (complete: the server said the part was whole already, HTTP 416).
 */
async function resumeInto(url, part, { signal, onStart, onProgress } = {}) {
  let offset = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const res = await get(url, offset > 0 ? { Range: `bytes=${offset}-` } : {}, { signal });
  const code = res.statusCode || 0;
  if (code === 416 && offset > 0) {
    res.resume();
    return { resumed: true, offset, total: offset, complete: true };
  }
  if (code !== 200 && code !== 206) {
    res.resume();
    throw new TransferError('http', `HTTP ${code} ${res.statusMessage || ''}`.trim(), { status: code });
  }
  const resumed = code === 206 && offset > 0;
  if (!resumed) offset = 0; // a fresh download, or a server that ignored the Range: start over
  const ranged = /\/(\d+)$/.exec(res.headers['content-range'] || '');
  const length = Number(res.headers['content-length']);
  const total = ranged ? Number(ranged[1]) : Number.isFinite(length) ? length + offset : undefined;
  if (onStart) onStart({ offset, total, resumed });
  await new Promise((resolve, reject) => {
    const out = fs.createWriteStream(part, { flags: resumed ? 'a' : 'w' });
    let received = offset;
    let failed = false;
    const fail = (e) => {
      if (failed) return;
      failed = true;
      const err = new TransferError('interrupted', e.message, { received });
      res.unpipe(out);
      // Everything handed to the file is on disk before the error is reported (a write still in flight would
      // otherwise land after the resumed ones).
      if (out.destroyed) reject(err);
      else out.end(() => out.close(() => reject(err)));
    };
    res.on('data', (c) => {
      received += c.length;
      if (onProgress) onProgress({ received, total, resumed });
    });
    res.on('error', fail);
    res.on('aborted', () => fail(new Error('connection closed')));
    res.pipe(out);
    out.on('error', (e) => {
      out.destroy();
      fail(e);
    });
    out.on('finish', () => {
      if (failed) return;
      if (!res.complete || (total !== undefined && received < total)) fail(new Error(total !== undefined && received < total ? `expected ${total} bytes` : 'connection closed'));
      else resolve();
    });
  });
  return { resumed, offset, total, complete: false };
}

module.exports = { get, resumeInto, TransferError };
