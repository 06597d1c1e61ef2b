// Argument fuzzing: every export and method, and the native surface under it, called with wrong types, NaN,
// infinities, negative and huge numbers, wrong-length typed arrays, disposed objects and missing or extra options.
// Every call must end in a thrown JS Error (or a normal result); the process must never abort.
import * as path from 'node:path';
import { Cifar10, ResNet, Trainer, info, loadTorchScript, readCheckpointMeta, setNumThreads } from '../../lib/index';
import { native } from '../../lib/base/native';


function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const WEIRD: unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 0.5, 7, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e-308,
  '', 'x', 'cpu', 'cuda:99', 'A', 'plain', '\0', 'a'.repeat(5000), true, false, {}, [], [1, 2, 3], [NaN],
  new Float32Array(0), new Float32Array(7), new Float32Array(3072), new Float64Array(3072), new Uint8Array(3072),
  new Int32Array(3), new ArrayBuffer(8), () => 1, Symbol('s'), 10n, new Date(0), Object.create(null),
  { depth: 20 }, { kind: 'channel', mean: [1, 2], std: [0, 0, 0] }, { dir: '' }, new Proxy({}, {}),
];

const OPTION_KEYS = ['depth', 'shortcut', 'numClasses', 'device', 'seed', 'iterations', 'milestones', 'lr', 'momentum',
  'weightDecay', 'batchSize', 'warmup', 'normalization', 'channelsLast', 'gamma', 'split', 'holdout', 'eval',
  'evalEvery', 'reportEvery', 'checkpoint', 'signal', 'onProgress', 'meta', 'normalize', 'bogus', 'evalBatchSize',
  'stepOnly', 'mean', 'std', 'kind', 'dir', 'every', 'resume', 'checkpointPath', 'genericBatch', 'fusedBatchNorm',
  'fused', 'shape', 'x'];

interface Tally { cases: number; thrown: number; ok: number; byType: Record<string, number> }

async function call(tally: Tally, fn: () => unknown): Promise<string | undefined> {
  tally.cases++;
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).then === 'function') {
      const v = await (r as Promise<unknown>);
      if (v && typeof (v as { dispose?: () => void }).dispose === 'function') (v as { dispose: () => void }).dispose();
    }
    tally.ok++;
    return undefined;
  } catch (e) {
    tally.thrown++;
    if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
    if (!e.message) return `${e.name} without a message`;
    tally.byType[e.name] = (tally.byType[e.name] ?? 0) + 1;
    return undefined;
  }
}

export interface FuzzReport extends Tally {
  seed: number;
  problems: string[];
}

/** `rounds` passes over every target with fresh random arguments; `dir` is a scratch folder. */
export async function fuzz(data: Cifar10, dir: string, rounds: number, seed: number): Promise<FuzzReport> {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const weird = () => pick(WEIRD);
  const options = () => {
    if (r() < 0.15) return weird();
    const o: Record<string, unknown> = {};
    const n = Math.floor(r() * 4);
    for (let i = 0; i < n; i++) o[pick(OPTION_KEYS)] = weird();
    return o;
  };
  const cwd = process.cwd();
  process.chdir(dir); // paths like 'x' that happen to be valid land here, not in the checkout
  const model = new ResNet({ depth: 8, device: 'cpu' });
  const disposed = new ResNet({ depth: 8, device: 'cpu' });
  disposed.dispose();
  const nModel = model.nativeModel;
  const nDisposed = new (native().Model)({ depth: 8, shortcut: 'A', numClasses: 10, device: 'cpu' });
  nDisposed.dispose();
  const small = new Trainer(model, { iterations: 1, batchSize: 2, milestones: [] });
  const threads = info().threads;
  const targets: [string, () => unknown][] = [
    ['new ResNet', () => new ResNet(options() as never)],
    ['ResNet.load', () => ResNet.load(weird() as never, options() as never)],
    ['predict', () => model.predict(weird() as never, weird() as never)],
    ['predict (disposed)', () => disposed.predict(new Float32Array(3072))],
    ['save', () => model.save(r() < 0.5 ? (weird() as never) : path.join(dir, 'x', 'y.pt'), options() as never)],
    ['loadStateDict', () => model.loadStateDict(weird() as never)],
    ['evaluate', () => model.evaluate(r() < 0.5 ? (weird() as never) : data, options() as never)],
    ['train()', () => model.train(weird() as never)],
    ['Cifar10.load', () => Cifar10.load(weird() as never, options() as never)],
    ['images', () => data.images(weird() as never, weird() as never)],
    ['new Trainer', () => new Trainer(r() < 0.3 ? (weird() as never) : model, options() as never)],
    ['fit', () => small.fit(r() < 0.3 ? (weird() as never) : data, options() as never)],
    ['trainingBatch', () => small.trainingBatch(r() < 0.3 ? (weird() as never) : data, weird() as never)],
    ['loadTorchScript', () => loadTorchScript(weird() as never, options() as never)],
    ['Cifar10.download', () => Cifar10.download({ ...(options() as object), url: 'http://127.0.0.1:9/none', dir }) as never],
    ['setNumThreads', () => setNumThreads(weird() as never)],
    // The native surface directly: lib/ validation bypassed.
    ['native Model', () => new (native().Model)(weird() as never)],
    ['native Model opts', () => new (native().Model)(options() as never)],
    ['native Model.load', () => native().Model.load(weird() as never, weird() as never)],
    ['native predict', () => nModel.predict(weird() as never, weird() as never, weird() as never)],
    ['native predict (disposed)', () => nDisposed.predict(new Float32Array(3072), 1, 'fp32')],
    ['native save', () => nModel.save(weird() as never, weird() as never, weird() as never, weird() as never)],
    ['native evaluate', () => nModel.evaluate(weird() as never, weird() as never, weird() as never, weird() as never)],
    ['native evaluate data', () => nModel.evaluate(data.nativeDataset, weird() as never, (r() < 0.5 ? options() : weird()) as never, 'fp32')],
    ['native save normalization', () => nModel.save(path.join(dir, 'n.pt'), undefined, options() as never, 'checkpoint')],
    ['native statistics', () => data.nativeDataset.statistics(weird() as never)],
    ['native readCheckpoint', () => native().readCheckpoint(weird() as never, weird() as never)],
    ['readCheckpointMeta', () => readCheckpointMeta(weird() as never)],
    ['native setTraining', () => nModel.setTraining(weird() as never)],
    ['native loadBatches', () => native().Dataset.loadBatches(weird() as never)],
    ['native loadBatches []', () => native().Dataset.loadBatches([weird(), { name: weird(), data: weird() }] as never)],
    ['native slice', () => data.nativeDataset.slice(weird() as never, weird() as never)],
    ['native images', () => data.nativeDataset.images(weird() as never, weird() as never)],
    ['native labelCounts', () => data.nativeDataset.labelCounts(weird() as never)],
    ['native fit', () => native().fit(weird() as never, weird() as never, weird() as never, weird() as never, weird() as never)],
    ['native fit opts', () => {
      const h = native().fit(nModel, data.nativeDataset, null, options() as never, () => undefined);
      return h.promise;
    }],
    ['native trainingBatch', () => native().trainingBatch(data.nativeDataset, options() as never, weird() as never)],
    ['native ForeignModule.loadTorchScript', () => native().ForeignModule.loadTorchScript(weird() as never, weird() as never)],
    ['native ForeignModule.loadExported', () => native().ForeignModule.loadExported(weird() as never, weird() as never)],
    ['native setNumThreads', () => native().setNumThreads(weird() as never)],
    // The test hooks, where this addon has them (a checkout's build).
    ...(native().batchNormRelu ? [
      ['native batchNormRelu', () => native().batchNormRelu!(weird() as never, weird() as never)],
      ['native batchNormRelu fields', () => native().batchNormRelu!({
        x: weird(), shape: r() < 0.5 ? [weird(), 16, weird(), 2] : weird(), weight: weird(), bias: weird(), grad: weird(),
        residual: r() < 0.5 ? undefined : weird(),
      } as never, r() < 0.5)],
    ] as [string, () => unknown][] : []),
  ];
  const tally: Tally = { cases: 0, thrown: 0, ok: 0, byType: {} };
  const problems: string[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of targets) {
      const p = await call(tally, fn);
      if (p) problems.push(`${name}: ${p}`);
    }
  }
  setNumThreads(threads);
  process.chdir(cwd);
  const ok = (await model.predict(new Float32Array(3072))).length === 10; // still usable
  if (!ok) problems.push('the model no longer predicts');
  model.dispose();
  return { ...tally, seed, problems };
}
