// npx tsx scripts/results/pretrained.ts RUN_DIR --name resnet20 [--data DIR] [--trained-on TEXT] [--note TEXT]...
// Makes a finished training run (a `resnet-cifar train` folder, or the GPU driver's train.js output) one of the
// package's pretrained networks: loads its checkpoint on the CPU, evaluates it in fp32 on the 10,000 test images,
// and writes pretrained/<name>.safetensors (weights, buffers, normalization; meta.pretrained = { testError,
// training }) and the run's curves as docs/results/pretrained-<name>.svg. Then rewrites docs/results/pretrained.md
// from the meta of every shipped file, so the table always says what the files hold. The time recorded is the whole
// run's, over all its starts (a run resumed from one working stretch to the next has several), from metrics.jsonl;
// the machine is its start lines' (or this one's, for folders from before those lines), unless --trained-on says.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CHECKPOINT_FILE, Cifar10, PAPER_TEST_ERRORS, PRETRAINED_DIR, ResNet, info, pretrainedModels, readCheckpointMeta } from '../../lib/index';
import type { MetaValue } from '../../lib/index';
import { machineName } from '../../lib/base/info';
import { readFinal, runTime } from '../../lib/run';

const { values: a, positionals } = parseArgs({
  options: { name: { type: 'string' }, data: { type: 'string' }, 'trained-on': { type: 'string' }, note: { type: 'string', multiple: true } },
  allowPositionals: true,
});
const RESULTS = path.join(__dirname, '..', '..', 'docs', 'results');

function fail(message: string): never {
  console.error(`pretrained: ${message}`);
  process.exit(2);
}

async function main() {
  if (positionals.length !== 1 || !a.name) fail('usage: scripts/results/pretrained.ts RUN_DIR --name NAME [--data DIR] [--trained-on TEXT] [--note TEXT]...');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(a.name)) fail(`--name expects lower-case letters, digits and dashes, got '${a.name}'`);
  const run = positionals[0];
  const final = readFinal(run);
  if (!final) fail(`${run} has no final.json: the run has not finished`);
  const checkpoint = path.join(run, CHECKPOINT_FILE);
  const trainer = (await readCheckpointMeta(checkpoint)).trainer;
  if (!trainer || trainer.iteration !== final.iterations) {
    fail(`${checkpoint} is not the end of the run (iteration ${trainer?.iteration} of ${final.iterations})`);
  }
  const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')) as Record<string, MetaValue>;

  const test = await Cifar10.load(await Cifar10.locate({ source: a.data }), { split: 'test' });
  const model = await ResNet.load(checkpoint, { device: 'cpu' });
  try {
    const r = await model.evaluate(test, { precision: 'fp32' });
    const time = runTime(run, Number(config.batchSize) * Number(config.worldSize ?? 1));
    const machines = time.machines.length ? time.machines.join('; ') : machineName();
    const training: Record<string, MetaValue> = {
      ...Object.fromEntries(['depth', 'shortcut', 'iterations', 'milestones', 'lr', 'batchSize', 'seed', 'holdout',
        'normalization', 'precision', 'worldSize', 'warmup', 'momentum', 'weightDecay'].filter((k) => config[k] !== undefined)
        .map((k) => [k, config[k]])),
      device: final.device,
      trainedOn: a['trained-on'] ?? (final.device === 'cpu' ? machines : `${final.device}, ${machines}`),
      libtorch: final.libtorch,
      seconds: time.seconds,
      trainingSeconds: time.trainingSeconds,
      starts: time.starts,
      runTestError: final.testError,
      runTestErrorPrecision: final.precision,
      finished: fs.statSync(path.join(run, 'final.json')).mtime.toISOString().slice(0, 10),
      notes: [...(final.notes ?? []), ...(a.note ?? [])],
    };
    fs.mkdirSync(PRETRAINED_DIR, { recursive: true });
    const file = path.join(PRETRAINED_DIR, `${a.name}.safetensors`);
    await model.save(file, { meta: { pretrained: { testError: r.error, evaluatedWith: { precision: 'fp32', device: 'cpu',
      libtorch: info().libtorch.version }, training } } });
    console.log(`${file}: ResNet-${model.config.depth} (${model.config.shortcut}), test error ${r.error.toFixed(2)} % in fp32 ` +
      `(the run's own evaluation in ${final.precision}: ${final.testError.toFixed(2)} %)`);
  } finally {
    model.dispose();
  }
  const curves = path.join(run, 'curves.svg');
  if (fs.existsSync(curves)) fs.copyFileSync(curves, path.join(RESULTS, `pretrained-${a.name}.svg`));
  writeTable(await pretrainedModels());
}

function writeTable(models: Awaited<ReturnType<typeof pretrainedModels>>) {
  const rows = models.map((m) => {
    const t = m.training;
    const time = (typeof t.seconds !== 'number' ? '–' : t.seconds < 3600 ? `${(t.seconds / 60).toFixed(1)} min` : `${(t.seconds / 3600).toFixed(2)} h`) +
      (typeof t.starts === 'number' && t.starts > 1 ? ` over ${t.starts} starts` : '');
    return `| \`${m.name}\` | ResNet-${m.config.depth} (${m.config.shortcut}) | ${m.testError.toFixed(2)} | ` +
      `${PAPER_TEST_ERRORS[m.config.depth]?.toFixed(2) ?? '–'} | ${t.iterations} it, batch ${t.batchSize}, lr ${t.lr} ÷10 at ${
        (t.milestones as number[] | undefined)?.join(', ')}, seed ${t.seed}, ${t.precision}, ${t.normalization} normalization, ` +
      `${t.holdout ? `${50_000 - (t.holdout as number)}` : '50,000'} training images | ${t.trainedOn}, libtorch ${t.libtorch}, ${time}, ${t.finished} |`;
  });
  const lines = [
    '# Pretrained networks shipped with the package',
    '',
    'Each is `pretrained/<name>.safetensors`: `ResNet.pretrained(name)` in TypeScript, `--pretrained NAME` for the',
    'CLI\'s `eval` and `predict`. Test error: top-1 on the 10,000 CIFAR-10 test images, evaluated in fp32 on the CPU',
    'when the file was made (the test suite checks it again). This table is written from the files\' own meta by',
    '`npx tsx scripts/results/pretrained.ts RUN_DIR --name NAME`.',
    '',
    '| name | network | test error (%) | paper (%) | recipe | trained on, time, finished |',
    '|---|---|---:|---:|---|---|',
    ...rows,
    '',
    ...models.filter((m) => fs.existsSync(path.join(RESULTS, `pretrained-${m.name}.svg`)))
      .map((m) => `![${m.name}: training (thin) and test (bold) error](pretrained-${m.name}.svg)`),
    '',
  ];
  fs.writeFileSync(path.join(RESULTS, 'pretrained.md'), lines.join('\n'));
}

main().catch((e) => fail((e as Error).message));
