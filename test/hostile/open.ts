// Opens each hostile file named on the command line through every public reader that takes it, one after another
// in this process, and prints one JSON line per file once it is done: { file, results: [{ api, ok, name,
// message }], baseMB, peakMB, seconds } (resident memory when that file's reading began, and its peak while it was read). Run by test/hostile-files.test.ts in a child
// process, so that a crash or a hang is seen, and blamed on the file being read, instead of taking the runner down.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cifar10, ImageDataset, ResNet, readCheckpointMeta } from '../../lib/index';

async function attempt(api: string, fn: () => Promise<unknown>) {
  try {
    const v = await fn();
    (v as { dispose?: () => void } | undefined)?.dispose?.();
    return { api, ok: true, name: '', message: '' };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    return { api, ok: false, name: err.name, message: err.message };
  }
}

/** Resident memory now (VmRSS) or its peak since the last reset (VmHWM), in MB; reset() starts a new peak (clear_refs). */
const status = (field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const reset = () => fs.writeFileSync('/proc/self/clear_refs', '5');

async function open(file: string) {
  const results = [];
  if (/\.tar\.gz$|\.tgz$/.test(file) || fs.statSync(file).isDirectory()) {
    results.push(await attempt('Cifar10.load train', () => Cifar10.load(file, { split: 'train' })));
    results.push(await attempt('Cifar10.load test', () => Cifar10.load(file, { split: 'test' })));
  } else if (/\.idx$/.test(file)) {
    results.push(await attempt('ImageDataset.loadIdx', () => ImageDataset.loadIdx(file, file)));
  } else if (/\.(png|jpe?g)$/.test(file)) {
    // A folder of two classes holding the file, read at 32×32 and at the size it declares (a PNG's, within 8–256),
    // colour and grey.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-png-'));
    for (const c of ['a', 'b']) fs.mkdirSync(path.join(dir, c));
    fs.copyFileSync(file, path.join(dir, 'a', path.basename(file)));
    fs.copyFileSync(file, path.join(dir, 'b', path.basename(file)));
    const b = fs.readFileSync(file);
    const side = /\.png$/.test(file) && b.length >= 24 ? Math.min(256, Math.max(8, b.readUInt32BE(16))) : 32;
    for (const size of [32, side]) {
      results.push(await attempt(`ImageDataset.fromFolder ${size}`, () => ImageDataset.fromFolder(dir, { size })));
      results.push(await attempt(`ImageDataset.fromFolder ${size} grey`, () => ImageDataset.fromFolder(dir, { size, grayscale: true })));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  } else {
    results.push(await attempt('ResNet.load', () => ResNet.load(file, { device: 'cpu' })));
    results.push(await attempt('readCheckpointMeta', () => readCheckpointMeta(file)));
    const model = new ResNet({ depth: 20, device: 'cpu' });
    results.push(await attempt('loadStateDict', () => model.loadStateDict(file)));
    model.dispose();
  }
  return results;
}

async function main(files: string[]) {
  for (const file of files) {
    reset();
    const baseMB = status('VmRSS');
    const t0 = Date.now();
    const results = await open(file);
    console.log(JSON.stringify({ file, results, baseMB, peakMB: status('VmHWM'), seconds: (Date.now() - t0) / 1000 }));
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
