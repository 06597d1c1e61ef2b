// Fetches the official cifar-10-binary.tar.gz into a cache folder: progress, md5 check, resume of a partial
// download (HTTP Range), and an atomic rename at the end, so the final name only ever holds a verified file.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v from './validate';

/** Where CIFAR-10's binary version is published (the University of Toronto's page). */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
/** The MD5 of cifar-10-binary.tar.gz as its authors publish it; a download must match. */
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';

/** How far a download has come. */
export interface DownloadProgress {
  /** Bytes on disk so far (including a resumed part). */
  received: number;
  /** Total bytes, when the server says. */
  total: number | undefined;
  /** True when this call continued an earlier partial download. */
  resumed: boolean;
}

/** Where Cifar10.download fetches from and into, and how it reports. */
export interface DownloadOptions {
  /** Cache folder (default $RESNET_CIFAR_CACHE or ~/.cache/resnet-cifar). */
  dir?: string;
  /** Default: the official archive. */
  url?: string;
  /** Expected md5 of the archive (default the official one). */
  md5?: string;
  /** Called as bytes arrive. */
  onProgress?: (p: DownloadProgress) => void;
  /** Aborts the download (what has arrived is kept in a .part file and resumed next time). */
  signal?: AbortSignal;
}

/** The cache folder: RESNET_CIFAR_CACHE when set, else ~/.cache/resnet-cifar. */
export function defaultCacheDir(): string {
  return process.env.RESNET_CIFAR_CACHE || path.join(os.homedir(), '.cache', 'resnet-cifar');
}

function md5File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('md5');
    fs.createReadStream(file).on('error', reject).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex')));
  });
}

/** resumable-download.js: the one resumable download (the install script's libtorch fetch uses it too). */
interface ResumableDownload {
  resumeInto(url: string, part: string, o: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void }):
    Promise<{ resumed: boolean; offset: number; total?: number; complete: boolean }>;
}
interface TransferError extends Error { kind: 'url' | 'http' | 'network' | 'interrupted'; received?: number }
const transfer = require('./resumable-download.js') as ResumableDownload;

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
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(`Expected url to be an http(s) URL but received '${url}'`);
  }
  const file = path.join(dir, path.basename(parsed.pathname) || CIFAR10_ARCHIVE);
  const part = file + '.part';
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file)) {
    const have = await md5File(file);
    if (have === md5) return file;
    fs.rmSync(file); // a wrong file under the final name (e.g. replaced by hand): fetch again
  }
  try {
    await transfer.resumeInto(url, part, { signal, onProgress });
  } catch (e) {
    const err = e as TransferError;
    if (err.kind === 'interrupted') {
      throw new Error(`Download of ${url} was interrupted after ${err.received} bytes (${err.message}); ` +
        `run it again to resume from ${part}`);
    }
    if (err.kind === 'http' || err.kind === 'network') throw new Error(`Download of ${url} failed: ${err.message}`);
    throw e;
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
