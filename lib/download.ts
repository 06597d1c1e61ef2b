// Fetches the official cifar-10-binary.tar.gz into a cache folder: progress, md5 check, resume of a partial
// download (HTTP Range), and an atomic rename at the end, so the final name only ever holds a verified file.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v from './validate';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';

export interface DownloadProgress {
  /** Bytes on disk so far (including a resumed part). */
  received: number;
  /** Total bytes, when the server says. */
  total: number | undefined;
  /** True when this call continued an earlier partial download. */
  resumed: boolean;
}

export interface DownloadOptions {
  /** Cache folder (default $RESNET_CIFAR_CACHE or ~/.cache/resnet-cifar). */
  dir?: string;
  /** Default: the official archive. */
  url?: string;
  /** Expected md5 of the archive (default the official one). */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export function defaultCacheDir(): string {
  return process.env.RESNET_CIFAR_CACHE || path.join(os.homedir(), '.cache', 'resnet-cifar');
}

function md5File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('md5');
    fs.createReadStream(file).on('error', reject).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex')));
  });
}

function get(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new TypeError(`Expected url to be an http(s) URL but received '${url}'`));
      return;
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!lib) {
      reject(new TypeError(`Expected url to be an http(s) URL but received '${url}'`));
      return;
    }
    const req = lib.get(u, { headers, signal }, (res) => {
      const code = res.statusCode ?? 0;
      if (code >= 300 && code < 400 && res.headers.location && redirects > 0) {
        res.resume();
        get(new URL(res.headers.location, u).toString(), headers, signal, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', reject);
  });
}

/**
 * Downloads the CIFAR-10 binary archive (once) and returns its path; Cifar10.load reads it directly.
 * A verified archive already in the cache is returned at once; a `.part` left by an interrupted download is
 * continued. A checksum mismatch removes the download and fails, naming both checksums.
 */
export async function downloadCifar10(options: DownloadOptions = {}): Promise<string> {
  const o = v.checkKeys('Cifar10.download', options, ['dir', 'url', 'md5', 'onProgress', 'signal']);
  const dir = path.resolve(o.dir === undefined ? defaultCacheDir() : v.nonEmptyString('dir', o.dir));
  const url = o.url === undefined ? CIFAR10_URL : v.nonEmptyString('url', o.url);
  const md5 = (o.md5 === undefined ? CIFAR10_MD5 : v.nonEmptyString('md5', o.md5)).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(md5)) throw v.expected('md5 to be 32 hex digits', o.md5, RangeError);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw v.expected('onProgress to be a function', o.onProgress);
  const onProgress = o.onProgress as ((p: DownloadProgress) => void) | undefined;
  const signal = o.signal as AbortSignal | undefined;
  const file = path.join(dir, path.basename(new URL(url).pathname) || CIFAR10_ARCHIVE);
  const part = file + '.part';
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file)) {
    const have = await md5File(file);
    if (have === md5) return file;
    fs.rmSync(file); // a wrong file under the final name (e.g. replaced by hand): fetch again
  }
  let offset = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const res = await get(url, offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal);
  const code = res.statusCode ?? 0;
  if (code === 416 && offset > 0) {
    res.resume(); // the part is already complete
  } else if (code !== 200 && code !== 206) {
    res.resume();
    throw new Error(`Download of ${url} failed: HTTP ${code} ${res.statusMessage ?? ''}`.trim());
  }
  const resumed = code === 206 && offset > 0;
  if (code === 200) offset = 0; // the server ignored the Range: start over
  const length = Number(res.headers['content-length']);
  const total = Number.isFinite(length) && code !== 416 ? length + (resumed ? offset : 0) : undefined;
  if (code !== 416) {
    await new Promise<void>((resolve, reject) => {
      const out = fs.createWriteStream(part, { flags: resumed ? 'a' : 'w' });
      let received = offset;
      res.on('data', (c: Buffer) => {
        received += c.length;
        onProgress?.({ received, total, resumed });
      });
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        const err = new Error(`Download of ${url} was interrupted after ${received} bytes (${e.message}); ` +
          `run it again to resume from ${part}`);
        res.unpipe(out);
        // Everything handed to the file is on disk before the error is reported, so that a resume asks for the
        // rest from the file's real end (a write still in flight would otherwise land after the resumed ones).
        if (out.destroyed) reject(err);
        else out.end(() => out.close(() => reject(err)));
      };
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('connection closed')));
      res.pipe(out);
      out.on('error', (e) => {
        out.destroy();
        fail(e);
      });
      out.on('finish', () => {
        if (failed) return;
        if (total !== undefined && received < total) fail(new Error(`expected ${total} bytes`));
        else resolve();
      });
    });
  }
  const got = await md5File(part);
  if (got !== md5) {
    fs.rmSync(part, { force: true });
    throw new Error(`Checksum mismatch for ${url}: expected md5 ${md5}, got ${got} (the download was removed)`);
  }
  const fd = fs.openSync(part, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(part, file);
  return file;
}
