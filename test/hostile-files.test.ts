// Files from strangers: every crafted file in test/hostile/ (made by make.py, or found by npm run fuzz) opened
// through each public reader that takes it, each file in its own Node process. Each reader must end in an Error
// naming the file, the process must exit by itself, and its memory stay bounded: no crash, hang or exhaustion.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Cifar10, ResNet, Trainer, readCheckpointMeta, type MetaValue } from '../lib/index';
import { anyCifarDir, launch, ROOT, tmpDir } from './helpers';

const DIR = path.join(ROOT, 'test/hostile');
// What reading one file may add to the process's resident memory: a declared size obeyed would take gigabytes. Growth
// over the same process's memory as that file's reading began, so that a sanitizer's own shadow memory and quarantine
// (an ASan build's baseline is over 1 GB) are not counted as the file's.
const GROWTH_MB = 1200;
const HANG_MS = 90_000;

// What each made file must be refused for, by every reader or by the readers named (a fuzzer's find only has to be
// refused, naming the file).
const EXPECTED: Record<string, RegExp | Record<string, RegExp>> = {
  'deep-tuple.pt': /nest deeper than 64 levels/,
  'deep-list-in-meta.pt': /nest deeper than 64 levels/,
  'deep-dict.pt': /more than 65536 dicts/,
  'cycle-in-meta.pt': /holds itself/,
  'cycle-two-lists.pt': /holds itself/,
  'doubling-meta.pt': /expand to more than \d+ values/,
  'tensor-past-storage.pt': /reaches element \d+ of a storage of 1\b/,
  'storage-size-wraps.pt': /declares 4611686018427387904 elements/,
  'zip-declares-4gib.pt': /more than deflate can produce/,
  'zip64-offset-wraps.pt': /has no local header/,
  'zip-extra-past-end.pt': /damaged (extra field|zip directory entry)/,
  'zip-members-share-bytes.pt': /two zip members share bytes/,
  'legacy-storage-128gib.pt': /more than the \d+ bytes the file holds/,
  'legacy-tensor-past-storage.pt': /reaches element 1000000 of a storage of 1\b/,
  'header-flat-array.safetensors': /more than \d+ values/,
  'header-hex-float.safetensors': /malformed JSON/,
  'header-duplicate-key.safetensors': /duplicate key "a"/,
  'tensors-with-gap.safetensors': /a gap of 4 bytes before tensor 'b'/,
  'bytes-after-last-tensor.safetensors': /5 bytes after the last tensor/,
  'shape-overflows.safetensors': /has a shape larger than the file/,
  'tar-batch-3gib.tar.gz': {
    'Cifar10.load train': /declares 3221225472 bytes, more than the 30730000/,
    'Cifar10.load test': /ends in the middle of cifar-10-batches-bin\/data_batch_1\.bin/,
  },
  'tar-pax-2gib.tar.gz': /pax header of 2147483648 bytes/,
  'png-declares-1g6-pixels.png': /exceeds pixel limit/,
  'jpeg-declares-4g3-pixels.jpg': /exceeds pixel limit/,
  'idx-declares-4gib.idx': /declares more than 2147483648 bytes of values/,
  'idx-dims-wrap.idx': /declares more than 2147483648 bytes of values/,
  // Found by npm run fuzz: an invalid deflate stream on which miniz's decoder produced output forever.
  'fuzz-tar_gz-timeout-b75a05090e.tar.gz': /inflates to more than deflate can produce/,
};

/** The file as a reader sees it: .gz files (but .tar.gz) unpacked into a scratch folder under their own name. */
function materialize(entry: string, scratch: string): string {
  const src = path.join(DIR, entry);
  if (!entry.endsWith('.gz') || entry.endsWith('.tar.gz')) return src;
  const out = path.join(scratch, entry.slice(0, -3));
  fs.writeFileSync(out, zlib.gunzipSync(fs.readFileSync(src)));
  return out;
}

const entries = fs.readdirSync(DIR).filter((f) => !f.endsWith('.py') && !f.endsWith('.ts')).sort();

interface Opened { file: string; results: { api: string; ok: boolean; name: string; message: string }[]; baseMB: number; peakMB: number; seconds: number }
type Outcome = Opened | { file: string; died: string };

/**
 * Every file opened by test/hostile/open.ts in child processes: one child reads the files in turn; when it dies or
 * hangs, the file it was reading is blamed and a new child goes on with the rest.
 */
async function openAll(): Promise<Map<string, Outcome>> {
  const scratch = tmpDir();
  const files = entries.map((e) => materialize(e, scratch));
  const out = new Map<string, Outcome>();
  let rest = files;
  while (rest.length > 0) {
    const r = await launch(process.execPath, ['--import=tsx', path.join(DIR, 'open.ts'), ...rest], process.env, HANG_MS * rest.length).done;
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const o = JSON.parse(line) as Opened;
      out.set(o.file, o);
    }
    rest = rest.filter((f) => !out.has(f));
    if (rest.length > 0) {
      const why = r.signal ? `died by ${r.signal}${r.signal === 'SIGKILL' ? ' (hung or out of memory?)' : ''}` : `exited ${r.code}`;
      out.set(rest[0], { file: rest[0], died: `${why}\n${r.stderr.slice(-2000)}` });
      rest = rest.slice(1);
    }
  }
  return out;
}
let opened: Promise<Map<string, Outcome>> | undefined;

test('the made hostile files are all there (python3 test/hostile/make.py writes them)', (t) => {
  const made = entries.map((e) => (e.endsWith('.gz') && !e.endsWith('.tar.gz') ? e.slice(0, -3) : e));
  for (const name of Object.keys(EXPECTED)) t.true(made.includes(name), name);
});

for (const entry of entries) {
  test(`hostile file ${entry}: an Error naming it from every reader, Node alive, memory bounded`, async (t) => {
    opened ??= openAll();
    const all = await opened;
    const o = [...all.values()].find((x) => path.basename(x.file) === entry.replace(/(?<!\.tar)\.gz$/, ''));
    if (!o) return t.fail(`${entry} was not opened`);
    const name = path.basename(o.file);
    if ('died' in o) return t.fail(`${name}: the process ${o.died}`);
    for (const x of o.results) {
      t.false(x.ok, `${x.api} opened ${name}`);
      t.true(x.message.includes(name), `${x.api}: the error names the file: ${x.message}`);
      const want = EXPECTED[name];
      const re = want instanceof RegExp ? want : want?.[x.api];
      if (re) t.regex(x.message, re, `${x.api}: ${x.message}`);
    }
    const growth = o.peakMB - o.baseMB;
    t.log(`${o.results.map((x) => `${x.api}: ${x.message.slice(0, 160)}`).join('\n')}\npeak RSS ${o.peakMB.toFixed(0)} MB (${growth.toFixed(0)} MB over the ${o.baseMB.toFixed(0)} MB it began with), ${o.seconds.toFixed(1)} s`);
    t.true(growth < GROWTH_MB, `reading it grew resident memory by ${growth.toFixed(0)} MB (from ${o.baseMB.toFixed(0)} to ${o.peakMB.toFixed(0)} MB)`);
  });
}

test('a CIFAR-10 batch file of 3 GiB is refused from its size, unread', async (t) => {
  const dir = tmpDir();
  const f = path.join(dir, 'test_batch.bin');
  fs.closeSync(fs.openSync(f, 'w'));
  fs.truncateSync(f, 3 * 2 ** 30); // sparse: no disk used
  new ResNet({ depth: 8, device: 'cpu' }).dispose(); // the addon and libtorch loaded before the peak is taken
  const before = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
  const err = await t.throwsAsync(Cifar10.load(dir, { split: 'test' }));
  t.regex(err!.message, /test_batch\.bin has 3221225472 bytes, expected 30730000/);
  const after = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
  t.true(after - before < 100 * 1024, `peak RSS grew ${((after - before) / 1024).toFixed(0)} MB`);
  fs.rmSync(dir, { recursive: true });
});

test('a meta that holds itself, or nests past the limit, is refused before anything is written', async (t) => {
  const dir = tmpDir();
  const model = new ResNet({ depth: 8, device: 'cpu' });
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: unknown = 0;
  for (let i = 0; i < 40; i++) deep = [deep];
  for (const [what, meta] of [['cycle', cyclic], ['deep', { deep }]] as const) {
    const f = path.join(dir, `${what}.pt`);
    const err = await t.throwsAsync(model.save(f, { meta: meta as Record<string, MetaValue> }), { instanceOf: RangeError });
    t.regex(err!.message, /nests deeper than 32 levels/);
    t.false(fs.existsSync(f));
  }
  let ok: unknown = 0;
  for (let i = 0; i < 30; i++) ok = [ok];
  const f = path.join(dir, 'ok.safetensors');
  await model.save(f, { meta: { ok: ok as MetaValue } });
  const back = await ResNet.load(f, { device: 'cpu' });
  t.deepEqual(back.meta.ok, ok, 'the deepest meta allowed reads back (safetensors)');
  back.dispose();
  const g = path.join(dir, 'ok.pt');
  await model.save(g, { meta: { ok: ok as MetaValue } });
  const back2 = await ResNet.load(g, { device: 'cpu' });
  t.deepEqual(back2.meta.ok, ok, 'the deepest meta allowed reads back (torch.save)');
  back2.dispose();
  model.dispose();
});

test('the largest real file, a ResNet-1202 checkpoint with its trainer state, reads within every bound', async (t) => {
  const dir = tmpDir();
  const data = await Cifar10.load(anyCifarDir(t), { split: 'test' });
  const model = new ResNet({ depth: 1202, device: 'cpu' });
  await new Trainer(model, { iterations: 1, batchSize: 2, milestones: [] }).fit(data, { checkpoint: { dir } });
  const file = path.join(dir, 'checkpoint.pt');
  const meta = await readCheckpointMeta(file);
  t.is(meta.trainer?.iteration, 1);
  const back = await ResNet.load(file, { device: 'cpu' });
  t.is(back.config.depth, 1202);
  const x = new Float32Array(3072).map((_, i) => Math.sin(i));
  t.deepEqual(await back.predict(x), await model.predict(x));
  back.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});
