// npm run bench:inference -- [--depths 20,56] [--rounds 3] [--threads N] [--calls 1000] [--data DIR] [--out FILE]
// Inference against ONNX Runtime (onnxruntime-node), in one run, back to back, with the same thread count and the
// same network (ours exported to ONNX with input 'normalized', so both take the same float32 batches):
//   throughput: the 10,000 test images at batch 500 (images/s): ours fp32 (predict on the batches; evaluate, which
//     also normalizes and scores), ours bf16, ONNX Runtime fp32 with its default session options and with
//     graphOptimizationLevel 'all';
//   latency: one image per call, `calls` calls (p50/p99 ms) for the same configurations.
// Each round runs every configuration in turn (the order alternating by round); the table shows medians and the
// ratios of ours to ONNX Runtime's best. Writes a JSON record (default docs/results/inference.json) and prints a
// Markdown table.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Cifar10, ResNet, info, setNumThreads } from '../../lib/index';
import { EVAL_BATCH_SIZE } from '../../lib/base/recipe';

const { values: a } = parseArgs({
  options: {
    depths: { type: 'string', default: '20,56' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    calls: { type: 'string', default: '1000' },
    data: { type: 'string' },
    out: { type: 'string', default: path.join(__dirname, '../../docs/results/inference.json') },
  },
});
const depths = a.depths.split(',').map(Number);
const rounds = Number(a.rounds);
const threads = Number(a.threads);
const calls = Number(a.calls);
const BATCH = EVAL_BATCH_SIZE;

interface Row { depth: number; config: string; imagesPerSecond: number[]; p50: number[]; p99: number[] }

const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
function percentile(x: number[], p: number): number {
  const s = [...x].sort((u, v) => u - v);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** NCHW float32 batches of the test set, normalized as the model's evaluate would (the model's own normalization). */
function batches(data: Cifar10, mean: ArrayLike<number>): Float32Array[] {
  const out: Float32Array[] = [];
  for (let start = 0; start < data.length; start += BATCH) {
    const { pixels } = data.images(start, BATCH);
    const x = new Float32Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] / 255 - mean[i % 3072];
    out.push(x);
  }
  return out;
}

type Infer = (x: Float32Array, n: number) => Promise<unknown>;

async function throughput(infer: Infer, xs: Float32Array[]): Promise<number> {
  await infer(xs[0], BATCH); // warm-up
  const t0 = process.hrtime.bigint();
  for (const x of xs) await infer(x, BATCH);
  return (xs.length * BATCH) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function latency(infer: Infer, x: Float32Array): Promise<number[]> {
  const one = x.subarray(0, 3072);
  for (let i = 0; i < 20; i++) await infer(one, 1);
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await infer(one, 1);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

async function main() {
  setNumThreads(threads);
  const data = await Cifar10.load(await Cifar10.locate({ source: a.data }), { split: 'test' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-inference-'));
  const rows: Row[] = [];
  for (const depth of depths) {
    // ResNet-20: the shipped network; deeper ones: a fresh network with the same normalization (speed does not
    // depend on the weights).
    const shipped = await ResNet.pretrained('resnet20');
    const norm = shipped.normalization!;
    const model = depth === 20 ? shipped : new ResNet({ depth, seed: 0 });
    if (norm.kind !== 'pixel') throw new Error('expected a per-pixel mean');
    const file = path.join(tmp, `resnet${depth}.onnx`);
    await model.save(file);
    const xs = batches(data, norm.mean);
    const sessionOptions = (level?: 'all'): ort.InferenceSession.SessionOptions => ({
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      ...(level ? { graphOptimizationLevel: level } : {}),
    });
    const ortDefault = await ort.InferenceSession.create(file, sessionOptions());
    const ortAll = await ort.InferenceSession.create(file, sessionOptions('all'));
    const runOrt = (s: ort.InferenceSession): Infer => (x, n) => s.run({ input: new ort.Tensor('float32', x, [n, 3, 32, 32]) });
    const configs: [string, Infer | 'evaluate'][] = [
      ['ours fp32 (predict)', (x, n) => model.predict(x, n)],
      ['ours fp32 (evaluate)', 'evaluate'],
      ['ours bf16 (predict)', (x, n) => model.predict(x, n, { precision: 'bf16' })],
      ['ONNX Runtime fp32 (default options)', runOrt(ortDefault)],
      ['ONNX Runtime fp32 (graph optimizations: all)', runOrt(ortAll)],
    ];
    const byConfig = new Map<string, Row>(configs.map(([c]) => [c, { depth, config: c, imagesPerSecond: [], p50: [], p99: [] }]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? configs : [...configs].reverse();
      for (const [name, infer] of order) {
        const row = byConfig.get(name)!;
        if (infer === 'evaluate') {
          await model.evaluate(data, { batchSize: BATCH });
          const t0 = process.hrtime.bigint();
          await model.evaluate(data, { batchSize: BATCH });
          row.imagesPerSecond.push(data.length / (Number(process.hrtime.bigint() - t0) / 1e9));
          continue;
        }
        row.imagesPerSecond.push(await throughput(infer, xs));
        const ms = await latency(infer, xs[0]);
        row.p50.push(percentile(ms, 50));
        row.p99.push(percentile(ms, 99));
      }
      process.stderr.write(`ResNet-${depth} round ${r + 1}/${rounds} done\n`);
    }
    rows.push(...byConfig.values());
    await ortDefault.release();
    await ortAll.release();
    model.dispose();
    if (model !== shipped) shipped.dispose();
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  const i = info();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [`Inference, ${cpu}, ${threads} threads, libtorch ${i.libtorch.version}, ONNX Runtime ${ort.env.versions.node}, ` +
    `${rounds} rounds (medians), ${calls} single-image calls per round; ${new Date().toISOString().slice(0, 10)}`, '',
  '| network | configuration | images/s (batch 500) | × ORT best | p50 ms (1 image) | p99 ms | × ORT best p50 |',
  '|---|---|---:|---:|---:|---:|---:|'];
  for (const depth of depths) {
    const mine = rows.filter((r) => r.depth === depth);
    const ortRows = mine.filter((r) => r.config.startsWith('ONNX'));
    const bestIps = Math.max(...ortRows.map((r) => median(r.imagesPerSecond)));
    const bestP50 = Math.min(...ortRows.map((r) => median(r.p50)));
    for (const r of mine) {
      const ips = median(r.imagesPerSecond);
      const p50 = r.p50.length ? median(r.p50) : undefined;
      lines.push(`| ResNet-${depth} | ${r.config} | ${ips.toFixed(0)} | ${(ips / bestIps).toFixed(2)} | ` +
        `${p50 === undefined ? '–' : p50.toFixed(2)} | ${r.p99.length ? median(r.p99).toFixed(2) : '–'} | ` +
        `${p50 === undefined ? '–' : (p50 / bestP50).toFixed(2)} |`);
    }
  }
  const table = lines.join('\n');
  console.log(table);
  fs.mkdirSync(path.dirname(a.out), { recursive: true });
  fs.writeFileSync(a.out, JSON.stringify({ date: new Date().toISOString(), cpu, threads, rounds, calls,
    libtorch: i.libtorch.version, onnxruntime: ort.env.versions.node, rows, table }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
