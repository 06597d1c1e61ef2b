// Dynamic batching (lib/model/batcher.ts): single-image predictions coalesced into batches, each caller's row its
// own, a full queue refused at once, aborts, and a drain on dispose.
import test from 'ava';
import * as path from 'node:path';
import { IMAGE_SIZE, QueueFullError, ResNet, loadTorchScript } from '../lib/index';
import { fakeCifarDir, py, randomImages, relError, tmpDir, withPython } from './helpers';

const image = (seed: number) => randomImages(1, seed);

test('concurrent single-image predictions are coalesced; each caller gets its own image\'s logits', async (t) => {
  const m = new ResNet({ depth: 20, seed: 3, device: 'cpu' });
  const b = m.batcher({ maxBatch: 16, maxDelayMs: 5 });
  const images = Array.from({ length: 100 }, (_, i) => image(i + 1));
  const got = await Promise.all(images.map((x) => b.predict(x)));
  const alone = await Promise.all(images.map((x) => m.predict(x)));
  for (let i = 0; i < images.length; i++) {
    t.is(got[i].length, 10);
    t.true(relError(got[i], alone[i]) < 1e-5, `image ${i}: relative error ${relError(got[i], alone[i])}`);
  }
  const s = b.stats;
  t.log(`100 predictions in ${s.batches} batches, sizes ${JSON.stringify(s.sizes)}`);
  t.is(s.images, 100);
  t.true(s.batches < 100 && s.batches >= Math.ceil(100 / 16), `${s.batches} batches`);
  t.true(Object.keys(s.sizes).every((k) => Number(k) >= 1 && Number(k) <= 16));
  t.is(s.waiting, 0);
  await b.dispose();
  m.dispose();
});

test('a lone prediction runs after maxDelayMs, without waiting for a full batch', async (t) => {
  const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  const b = m.batcher({ maxBatch: 64, maxDelayMs: 1 });
  const x = image(5);
  t.deepEqual(Array.from(await b.predict(x)).length, 10);
  t.deepEqual(b.stats.sizes, { 1: 1 });
  await b.dispose();
});

test('a full queue rejects at once with QueueFullError; the queued ones are still answered', async (t) => {
  const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  const b = m.batcher({ maxBatch: 1, maxDelayMs: 0, maxQueue: 4 });
  // In one tick: the first starts its batch, four wait, the other five find the queue full.
  const all = Array.from({ length: 10 }, (_, i) => b.predict(image(i)).then(() => 'ok', (e: Error) => e));
  const results = await Promise.all(all);
  const full = results.filter((r): r is QueueFullError => r instanceof QueueFullError);
  t.is(full.length, 5);
  t.is(full[0].code, 'QUEUE_FULL');
  t.regex(full[0].message, /queue is full \(4 images waiting\)/);
  t.is(results.filter((r) => r === 'ok').length, 5);
  t.is(b.stats.rejected, 5);
  await b.dispose();
});

test('an abort takes a waiting prediction out of the queue; an aborted signal rejects at once; others are unaffected', async (t) => {
  const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  const b = m.batcher({ maxBatch: 8, maxDelayMs: 50 });
  const c = new AbortController();
  const kept = b.predict(image(1));
  const aborted = b.predict(image(2), { signal: c.signal });
  c.abort(new Error('caller went away'));
  await t.throwsAsync(aborted, { message: 'caller went away' });
  t.is((await kept).length, 10);
  t.deepEqual(b.stats.sizes, { 1: 1 }, 'the aborted image never ran');
  const e = await b.predict(image(3), { signal: AbortSignal.abort() }).then(() => undefined, (x: { name?: string }) => x);
  t.is(e?.name, 'AbortError', 'the signal\'s own reason (a DOMException named AbortError)');
  await b.dispose();
});

test('dispose answers every waiting prediction, then refuses new ones; bad options and inputs are errors', async (t) => {
  const m = new ResNet({ depth: 8, seed: 1, device: 'cpu' });
  const b = m.batcher({ maxBatch: 4, maxDelayMs: 10_000 });
  const pending = Array.from({ length: 10 }, (_, i) => b.predict(image(i)));
  await b.dispose();
  t.is((await Promise.all(pending)).length, 10);
  t.is(b.stats.images, 10);
  await t.throwsAsync(b.predict(image(0)), { message: 'This batcher has been disposed' });
  t.throws(() => m.batcher({ maxBatch: 0 }), { instanceOf: RangeError, message: /Expected maxBatch between 1 and 100000 but received 0/ });
  t.throws(() => m.batcher({ maxDelayMs: -1 }), { instanceOf: RangeError, message: /Expected maxDelayMs in \[0, 60000\]/ });
  t.throws(() => m.batcher({ precision: 'tf32' }), { instanceOf: RangeError, message: /'fp32' or 'bf16' on cpu/ });
  t.throws(() => m.batcher({ size: 3 } as never), { message: /Unknown option 'size' for batcher/ });
  const b2 = m.batcher();
  t.throws(() => b2.predict(new Float32Array(2 * IMAGE_SIZE)), { message: /for n = 1/ });
  await b2.dispose();
});

withPython()('a TorchScript module batches the same way', async (t) => {
  const out = tmpDir();
  await py(['torchscript', '--depth', '8', '--steps', '1', '--eval-dir', fakeCifarDir(), '--out', out]);
  const ts = await loadTorchScript(path.join(out, 'scripted.pt'), { device: 'cpu' });
  const b = ts.batcher({ maxBatch: 8, maxDelayMs: 5 });
  const images = Array.from({ length: 20 }, (_, i) => image(i + 10));
  const got = await Promise.all(images.map((x) => b.predict(x)));
  for (let i = 0; i < images.length; i++) t.true(relError(got[i], await ts.predict(images[i])) < 1e-5);
  t.true(b.stats.batches < 20);
  await b.dispose();
  ts.dispose();
});
