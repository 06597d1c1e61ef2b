// npm run bench:data -- [--rounds 3] [--work DIR] [--workers N] [--e2e-steps 80] [--data DIR]
// The data path against torchvision, on the same files, side by side in each round (order alternating):
//   decoding a folder of 10,000 PNGs (CIFAR-10's test images, 32×32) and of 10,000 JPEGs (the same images scaled to
//   256×256, quality 90; decoded to 32×32: shorter side scaled, centre-cropped): ImageDataset.fromFolder against
//   torchvision's ImageFolder + PIL with a DataLoader (--workers, default this machine's cores; ours decodes with
//   fromFolder's default concurrency on sharp's threads), images/s from the call to the last image (the folder walk
//   and the workers' start included); on the JPEGs also the peer with PIL's draft mode (libjpeg's DCT scaling, which
//   sharp uses by itself: ImageFolder's default loader does not);
//   the cache: a first load that decodes and writes it, then a second that reads it;
//   training end to end (batch 128, ResNet-20, fp32) on the folder-made dataset against the same 10,000 images
//   loaded by the CIFAR-10 reader: the same sizes, so the same work, if the general dataset costs nothing.
// The files are made once into --work (default: the system's temporary folder) and kept for the next run.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { CIFAR10_CLASSES, Cifar10, ImageDataset, ResNet, Trainer, info } from '../../lib/index';

const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    work: { type: 'string', default: path.join(os.tmpdir(), 'resnet-cifar-bench-data') },
    workers: { type: 'string', default: String(os.availableParallelism()) },
    'e2e-steps': { type: 'string', default: '80' },
    data: { type: 'string' },
  },
});
const PYTHON = process.env.PYTHON ?? 'python3';
const PEER = path.join(__dirname, 'peer_folder.py');
const IMAGES = 10_000;
const BATCH = 128;
const rounds = Number(a.rounds);
const e2eSteps = Number(a['e2e-steps']);

/** Writes CIFAR-10's test images as class folders of `ext` files at `side` (once: a complete folder is kept). */
async function makeFolder(test: Cifar10, dir: string, ext: 'png' | 'jpg', side: number): Promise<string> {
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  for (const c of CIFAR10_CLASSES) fs.mkdirSync(path.join(dir, c), { recursive: true });
  const { pixels, labels } = test.images(0, IMAGES);
  for (let i = 0; i < IMAGES; i++) {
    const hwc = Buffer.alloc(3072);
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = pixels[i * 3072 + c * 1024 + p];
    let img = sharp(hwc, { raw: { width: 32, height: 32, channels: 3 } });
    if (side !== 32) img = img.resize(side, side, { kernel: 'lanczos3' });
    const file = path.join(dir, CIFAR10_CLASSES[labels[i]], `${String(i).padStart(5, '0')}.${ext}`);
    await (ext === 'png' ? img.png() : img.jpeg({ quality: 90 })).toFile(file);
  }
  fs.writeFileSync(done, '');
  return dir;
}

function peer(dir: string, draft = false): number {
  const out = execFileSync(PYTHON, [PEER, dir, '--size', '32', '--workers', a.workers!, ...(draft ? ['--draft'] : [])], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { images: number; images_per_s: number };
  if (r.images !== IMAGES) throw new Error(`the peer read ${r.images} images of ${dir}, not ${IMAGES}`);
  return r.images_per_s;
}

async function ours(dir: string, cache?: string): Promise<number> {
  const t = performance.now();
  const { train } = await ImageDataset.fromFolder(dir, { size: 32, ...(cache ? { cache } : {}) });
  const s = (performance.now() - t) / 1000;
  if (train.length !== IMAGES) throw new Error(`fromFolder read ${train.length} images of ${dir}, not ${IMAGES}`);
  return IMAGES / s;
}

async function train(data: ImageDataset): Promise<number> {
  const model = new ResNet({ depth: 20, seed: 0, device: 'cpu' });
  const h = await new Trainer(model, { iterations: e2eSteps }).fit(data, { reportEvery: e2eSteps });
  model.dispose();
  return (e2eSteps * BATCH) / h.seconds;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function main() {
  const shared = path.join(__dirname, '../../../shared/cifar10/cifar-10-batches-bin');
  const dataDir = await Cifar10.locate({ source: a.data ?? (fs.existsSync(shared) && !process.env.CIFAR10_DIR ? shared : undefined) });
  const test = await Cifar10.load(dataDir, { split: 'test' });
  const torchvision = execFileSync(PYTHON, ['-c', 'import torch; torch.library.register_fake = lambda *a, **k: (lambda f: f); ' +
    'import torchvision, PIL; print(torchvision.__version__, PIL.__version__)'], { encoding: 'utf8' }).trim().split(' ');
  console.log(`${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length} (bf16 path: ${info().cpu.bf16}); ours: sharp ${sharp.versions.sharp} ` +
    `(libvips ${sharp.versions.vips}), libtorch ${info().libtorch.version}; peer: torchvision ${torchvision[0]} + Pillow ${torchvision[1]}, ` +
    `DataLoader with ${a.workers} workers`);
  console.log(`making the files in ${a.work} (once)…`);
  const png = await makeFolder(test, path.join(a.work!, 'png32'), 'png', 32);
  const jpg = await makeFolder(test, path.join(a.work!, 'jpg256'), 'jpg', 256);
  const rows: Record<string, { ours: number; peer: number }[]> = { png: [], jpg: [], draft: [] };
  const cache: { first: number; second: number }[] = [];
  const fit: { folder: number; cifar: number }[] = [];
  const folderSet = (await ImageDataset.fromFolder(png, { size: 32 })).train;
  await train(test); // warm-up (allocator, oneDNN's kernels), not counted
  for (let r = 0; r < rounds; r++) {
    for (const [key, dir] of [['png', png], ['jpg', jpg]] as const) {
      const row = { ours: 0, peer: 0 };
      if (r % 2 === 0) { row.ours = await ours(dir); row.peer = peer(dir); } else { row.peer = peer(dir); row.ours = await ours(dir); }
      rows[key].push(row);
    }
    rows.draft.push({ ours: rows.jpg[r].ours, peer: peer(jpg, true) });
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-bench-cache-'));
    const c = { first: await ours(jpg, cacheDir), second: await ours(jpg, cacheDir) };
    fs.rmSync(cacheDir, { recursive: true, force: true });
    cache.push(c);
    const f = { folder: 0, cifar: 0 };
    if (r % 2 === 0) { f.folder = await train(folderSet); f.cifar = await train(test); } else { f.cifar = await train(test); f.folder = await train(folderSet); }
    fit.push(f);
    console.log(`round ${r + 1}: PNG ours ${rows.png[r].ours.toFixed(0)} vs peer ${rows.png[r].peer.toFixed(0)} (${(rows.png[r].ours / rows.png[r].peer).toFixed(2)}×); ` +
      `JPEG ours ${rows.jpg[r].ours.toFixed(0)} vs peer ${rows.jpg[r].peer.toFixed(0)} (${(rows.jpg[r].ours / rows.jpg[r].peer).toFixed(2)}×), ` +
      `draft ${rows.draft[r].peer.toFixed(0)} (${(rows.draft[r].ours / rows.draft[r].peer).toFixed(2)}×); ` +
      `cache ${c.first.toFixed(0)} → ${c.second.toFixed(0)} (${(c.second / c.first).toFixed(1)}×); ` +
      `training folder ${f.folder.toFixed(0)} vs CIFAR-10 ${f.cifar.toFixed(0)} (${(f.folder / f.cifar).toFixed(3)}×)`);
  }
  const m = (xs: number[]) => median(xs);
  const n = (x: number) => x.toFixed(0).padStart(7);
  console.log('');
  console.log(`| images/s (median of ${rounds} round(s)) | torchvision ImageFolder + DataLoader | resnet-cifar fromFolder | ours / peer |`);
  console.log('|---|---:|---:|---:|');
  for (const [key, title] of [['png', '10,000 PNGs, 32×32'], ['jpg', '10,000 JPEGs, 256×256 → 32×32'],
    ['draft', 'the JPEGs, the peer in PIL draft mode']] as const) {
    console.log(`| ${title} | ${n(m(rows[key].map((x) => x.peer)))} | ${n(m(rows[key].map((x) => x.ours)))} | ${m(rows[key].map((x) => x.ours / x.peer)).toFixed(2)}× |`);
  }
  console.log('');
  console.log(`| the JPEG folder through the cache | first load (decode + write) | second load (read) | second / first |`);
  console.log('|---|---:|---:|---:|');
  console.log(`| images/s | ${n(m(cache.map((c) => c.first)))} | ${n(m(cache.map((c) => c.second)))} | ${m(cache.map((c) => c.second / c.first)).toFixed(1)}× |`);
  console.log('');
  console.log(`| training end to end, ResNet-20, batch ${BATCH}, ${e2eSteps} steps | CIFAR-10 reader | folder-made dataset | folder / CIFAR-10 |`);
  console.log('|---|---:|---:|---:|');
  console.log(`| images/s (the same 10,000 test images) | ${n(m(fit.map((f) => f.cifar)))} | ${n(m(fit.map((f) => f.folder)))} | ${m(fit.map((f) => f.folder / f.cifar)).toFixed(3)}× |`);
  console.log('');
  console.log('ratios are medians of the per-round ratios (each from back-to-back runs)');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
