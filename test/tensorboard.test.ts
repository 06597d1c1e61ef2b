// TensorBoard event files, read back by the `tensorboard` Python package (its EventAccumulator), and our schema
// checked against TensorBoard's own descriptors.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet, Trainer, type EvalProgress, type TrainProgress } from '../lib/index';
import { TensorBoardWriter } from '../lib/io/tensorboard';
import { checkSchema, type Descriptors } from './helpers/proto-schema';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { anyCifarDir, launch, PYTHON, ROOT, tmpDir, withPython } from './helpers';

const READ = path.join(ROOT, 'test/python/tensorboard_read.py');
const run = promisify(execFile);
async function py(args: string[]): Promise<string> {
  return (await run(PYTHON, args, { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
}

interface Events { scalars: Record<string, [number, number][]>; texts: Record<string, [number, string[]][]>; fileVersion: number }
async function readEvents(dir: string): Promise<Events> {
  return JSON.parse(await py([READ, 'events', dir])) as Events;
}

/** A test that reads our event files with the tensorboard package. */
const tbTest = withPython(['tensorboard']);

const f32 = (x: number) => Math.fround(x);

tbTest('proto/tensorboard.proto matches TensorBoard\'s own descriptors: every message, field number, type and enum value', async (t) => {
  const theirs = JSON.parse(await py([READ, 'schema'])) as Descriptors;
  const { fields, values } = checkSchema(t, path.join(ROOT, 'proto/tensorboard.proto'), theirs);
  t.log(`${fields} fields and ${values} enum values checked`);
  t.true(fields >= 25);
});

test('a record is TensorFlow\'s framing: length, masked CRC-32C of it, the event, masked CRC-32C of the event', async (t) => {
  const dir = tmpDir('tensorboard-');
  const w = new TensorBoardWriter(dir);
  w.close();
  const bytes = fs.readFileSync(w.file);
  t.regex(path.basename(w.file), /^events\.out\.tfevents\.\d+\./);
  const n = Number(bytes.readBigUInt64LE(0));
  t.is(bytes.length, 12 + n + 4);
  // The masked CRC-32C of "brain.Event:2"-bearing events differs with the wall time; check the 8-byte header's own
  // checksum against an independent CRC-32C (bitwise, Castagnoli polynomial) and TensorFlow's mask.
  const crc32c = (b: Uint8Array) => {
    let c = ~0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
  t.is(bytes.readUInt32LE(8), mask(crc32c(bytes.subarray(0, 8))));
  t.is(bytes.readUInt32LE(12 + n), mask(crc32c(bytes.subarray(12, 12 + n))));
  t.true(bytes.subarray(12, 12 + n).includes(Buffer.from('brain.Event:2')));
  fs.rmSync(dir, { recursive: true, force: true });
});

tbTest('Trainer.fit with logDir: TensorBoard sees every reported scalar at its step, and the configuration as text', async (t) => {
  const data = anyCifarDir(t);
  const train = await Cifar10.load(data, { split: 'train', holdout: 200 });
  const dir = tmpDir('tensorboard-fit-');
  const reported: (TrainProgress | EvalProgress)[] = [];
  const model = new ResNet({ depth: 20, seed: 1 });
  await new Trainer(model, { iterations: 30, batchSize: 32, seed: 1 }).fit(train, {
    eval: train.validation, evalEvery: 15, reportEvery: 10, logDir: dir,
    onProgress: (e) => { if (e.kind !== 'checkpoint') reported.push(e); },
  });
  const ev = await readEvents(dir);
  t.is(ev.fileVersion, 2, 'EventAccumulator reads brain.Event:2 as version 2');
  const trains = reported.filter((e): e is TrainProgress => e.kind === 'train');
  const evals = reported.filter((e): e is EvalProgress => e.kind === 'eval');
  t.deepEqual(trains.map((e) => e.iteration), [10, 20, 30]);
  t.deepEqual(evals.map((e) => e.iteration), [15, 30]);
  t.deepEqual(ev.scalars['loss/train'], trains.map((e) => [e.iteration, f32(e.loss)]));
  t.deepEqual(ev.scalars['error/train'], trains.map((e) => [e.iteration, f32(e.trainError)]));
  t.deepEqual(ev.scalars.lr, trains.map((e) => [e.iteration, f32(e.lr)]));
  t.deepEqual(ev.scalars.images_per_second, trains.map((e) => [e.iteration, f32(e.imagesPerSecond)]));
  t.deepEqual(ev.scalars['error/validation'], evals.map((e) => [e.iteration, f32(e.error)]));
  t.deepEqual(ev.scalars['loss/validation'], evals.map((e) => [e.iteration, f32(e.loss)]));
  const [[step, [text]]] = ev.texts.config;
  t.is(step, 10);
  const config = JSON.parse(text.replace(/^```json\n|\n```$/g, '')) as { model: { depth: number }; trainer: { batchSize: number } };
  t.like(config, { model: { depth: 20 }, trainer: { batchSize: 32 } });
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

tbTest('a restart marks its step: TensorBoard drops what the earlier life logged from there on, so each step shows once', async (t) => {
  const dir = tmpDir('tensorboard-resume-');
  const first = new TensorBoardWriter(dir);
  first.start(10);
  for (const step of [10, 20, 30, 40, 50]) first.scalars(step, { 'loss/train': step });
  first.close();
  const second = new TensorBoardWriter(dir); // resumed from a checkpoint at 20: 30, 40, 50 are logged again
  second.start(30);
  for (const step of [30, 40, 50, 60]) second.scalars(step, { 'loss/train': step + 0.5 });
  second.close();
  const ev = await readEvents(dir);
  t.deepEqual(ev.scalars['loss/train'], [[10, 10], [20, 20], [30, 30.5], [40, 40.5], [50, 50.5], [60, 60.5]]);
  fs.rmSync(dir, { recursive: true, force: true });
});

tbTest('the CLI\'s run folder is a TensorBoard run (train --out DIR; tensorboard --logdir over its parent)', async (t) => {
  const data = anyCifarDir(t);
  const runs = tmpDir('tensorboard-runs-');
  const out = path.join(runs, 'short');
  const r = await launch(process.execPath, [path.join(ROOT, 'bin/resnet-cifar.js'), 'train', '--depth', '20', '--iterations', '20',
    '--eval-every', '20', '--data', data, '--out', out, '--json']).done;
  t.is(r.code, 0, r.stderr);
  t.true(fs.readdirSync(out).some((f) => f.startsWith('events.out.tfevents.')));
  const ev = await readEvents(out);
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as
    { kind: string; iteration: number; loss?: number; error?: number; split?: string });
  const trainSteps = metrics.filter((m) => m.kind === 'train').map((m) => [m.iteration, f32(m.loss!)]);
  t.deepEqual(ev.scalars['loss/train'], trainSteps);
  const evalLine = metrics.find((m) => m.kind === 'eval')!;
  t.deepEqual(ev.scalars[`error/${evalLine.split}`], [[20, f32(evalLine.error!)]]);
  t.truthy(ev.texts.config);
  fs.rmSync(runs, { recursive: true, force: true });
});

tbTest('a run killed after its checkpoint and resumed shows each step once in TensorBoard, as metrics.jsonl has them', async (t) => {
  const data = anyCifarDir(t);
  const out = path.join(tmpDir('tensorboard-kill-'), 'run');
  const args = (n: number) => [path.join(ROOT, 'bin/resnet-cifar.js'), 'train', '--depth', '8', '--iterations', String(n),
    '--batch-size', '8', '--eval-every', '1000', '--checkpoint-every', '50', '--data', data, '--out', out];
  const first = launch(process.execPath, args(1000));
  // SIGKILL once iterations past the checkpoint at 50 were logged: they are lost with the process, then redone.
  const timer = setInterval(() => {
    const m = fs.existsSync(path.join(out, 'metrics.jsonl')) ? fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8') : '';
    if (/"iteration":(7\d|8\d|9\d)\b/.test(m)) first.child.kill('SIGKILL');
  }, 20);
  const killed = await first.done;
  clearInterval(timer);
  t.is(killed.signal, 'SIGKILL', killed.stderr);
  const resumed = await launch(process.execPath, [...args(120), '--resume']).done;
  t.is(resumed.code, 0, resumed.stderr);
  const ev = await readEvents(out);
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { kind: string; iteration: number; loss: number }).filter((m) => m.kind === 'train');
  t.deepEqual(metrics.map((m) => m.iteration), Array.from({ length: 12 }, (_, i) => 10 * (i + 1)));
  t.deepEqual(ev.scalars['loss/train'], metrics.map((m) => [m.iteration, f32(m.loss)]));
  t.is(fs.readdirSync(out).filter((f) => f.startsWith('events.out.tfevents.')).length, 2);
});
