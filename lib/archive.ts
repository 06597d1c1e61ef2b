// Reads chosen members of a .tar.gz as one stream (no extraction to disk): ustar, GNU long names and pax paths.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

export interface TarMember {
  /** Path inside the archive. */
  name: string;
  data: Buffer;
}

function octal(b: Buffer, start: number, len: number): number {
  const s = b.subarray(start, start + len).toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`bad tar header field '${s}'`);
  return parseInt(s, 8);
}

function cString(b: Buffer, start: number, len: number): string {
  const raw = b.subarray(start, start + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

/** The most bytes a GNU long name or a pax header may hold (real ones hold a path). */
const MAX_META_BYTES = 1 << 20;

/**
 * Streams `file` (gzip-compressed tar) and returns the regular-file members for which `want(name)` gives a size
 * (the most bytes that member may have), plus every member name seen (for error messages). A wanted member that
 * declares more is refused from its header, before any of it is kept: nothing larger than the sizes given is ever
 * held in memory. Errors name the file and what was wrong.
 */
export async function readTarGz(file: string, want: (name: string) => number | undefined): Promise<{ members: TarMember[]; names: string[] }> {
  const members: TarMember[] = [];
  const names: string[] = [];
  const input = fs.createReadStream(file);
  const gunzip = zlib.createGunzip();
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  let pending: Buffer = Buffer.alloc(0);
  let state: 'header' | 'data' | 'end' = 'header';
  let remaining = 0; // data bytes left in the current member
  let padding = 0; // bytes to skip after the data
  let keep: Buffer[] | undefined;
  let current = '';
  let type = '';
  let longName: string | undefined;
  let paxName: string | undefined;
  let meta: Buffer[] | undefined; // data of a GNU 'L' or pax 'x' member
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      while ((state as string) !== 'end') {
        if (state === 'header') {
          if (pending.length - off < 512) break;
          const h = pending.subarray(off, off + 512);
          off += 512;
          if (h.every((x) => x === 0)) {
            state = 'end';
            break;
          }
          if (h.subarray(257, 262).toString('latin1') !== 'ustar') throw new Error('not a tar archive (no ustar header)');
          const size = octal(h, 124, 12);
          type = String.fromCharCode(h[156] || 48);
          const prefix = cString(h, 345, 155);
          const base = cString(h, 0, 100);
          current = paxName ?? longName ?? (prefix ? `${prefix}/${base}` : base);
          if (type !== 'L' && type !== 'x' && type !== 'g') {
            longName = undefined;
            paxName = undefined;
          }
          remaining = size;
          padding = (512 - (size % 512)) % 512;
          keep = undefined;
          meta = undefined;
          if (type === 'L' || type === 'x') {
            if (size > MAX_META_BYTES) throw new Error(`a ${type === 'L' ? 'long-name' : 'pax'} header of ${size} bytes (at most ${MAX_META_BYTES} are read)`);
            meta = [];
          } else if (type === '0' || type === '7') {
            names.push(current);
            const limit = want(current);
            if (limit !== undefined && size > limit) throw new Error(`${current} declares ${size} bytes, more than the ${limit} it may have`);
            if (limit !== undefined) keep = [];
          }
          state = 'data';
        }
        if (state === 'data') {
          const take = Math.min(remaining, pending.length - off);
          if (take > 0) {
            const piece = pending.subarray(off, off + take);
            if (keep) keep.push(Buffer.from(piece));
            if (meta) meta.push(Buffer.from(piece));
            off += take;
            remaining -= take;
          }
          if (remaining > 0) break;
          const skip = Math.min(padding, pending.length - off);
          off += skip;
          padding -= skip;
          if (padding > 0) break;
          if (keep) members.push({ name: current, data: Buffer.concat(keep) });
          if (meta && type === 'L') longName = Buffer.concat(meta).toString('utf8').replace(/\0+$/, '');
          if (meta && type === 'x') {
            const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.concat(meta).toString('utf8'));
            if (m) paxName = m[1];
          }
          state = 'header';
        }
      }
      // After the end-of-archive blocks keep reading: only the end of the gzip stream checks its CRC-32.
      pending = state === 'end' ? Buffer.alloc(0) : pending.subarray(off);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`Cannot read ${file} as a .tar.gz archive: ${msg}`);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (state !== 'end' && (state === 'data' || pending.length > 0 || remaining > 0)) {
    throw new Error(`Cannot read ${file} as a .tar.gz archive: it ends in the middle of ${current || 'a header'} (truncated?)`);
  }
  return { members, names };
}
