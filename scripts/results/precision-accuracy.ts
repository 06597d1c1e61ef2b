// npm run accuracy:precision -- [--iterations 4000] [--seeds 1,2] [--data DIR] [--out docs/results/precision-accuracy.md]
//   [--fresh]
// fp32 against bf16 on real CIFAR-10: ResNet-20 from the same initial weights and data order (per seed), the
// learning rate divided by 10 at 50 % and 75 % of the iterations, trained on the 50k training images and evaluated
// on the 10k test images. Prints and writes a table of test errors side by side, and whether bf16 lands within the
// fp32 runs' spread + 0.5 points. Each finished run is recorded in a JSON file beside the table (same name, .json),
// and a later invocation with the same iterations skips the runs recorded there (a run takes about 20 minutes on 2
// cores, so an interrupted table is continued, not restarted); --fresh ignores the record.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Cifar10, ResNet, Trainer, info } from '../../lib/index';

const { values: a } = parseArgs({
  options: {
    iterations: { type: 'string', default: '4000' },
    seeds: { type: 'string', default: '1,2' },
    data: { type: 'string' },
    out: { type: 'string', default: path.join(__dirname, '../../docs/results/precision-accuracy.md') },
    fresh: { type: 'boolean', default: false },
  },
});

async function main() {
  const iterations = Number(a.iterations);
  const seeds = a.seeds!.split(',').map(Number);
  const source = await Cifar10.locate({ source: a.data });
  const train = await Cifar10.load(source, { split: 'train' });
  const test = await Cifar10.load(source, { split: 'test' });
  const milestones = [Math.round(iterations / 2), Math.round(iterations * 0.75)];
  type Row = { seed: number; precision: string; iterations: number; error: number; seconds: number; ips: number; cpu: string; date: string };
  const record = a.out!.replace(/\.md$/, '') + '.json';
  const known: Row[] = !a.fresh && fs.existsSync(record) ? JSON.parse(fs.readFileSync(record, 'utf8')) : [];
  const rows: Row[] = [];
  for (const seed of seeds) {
    for (const precision of ['fp32', 'bf16'] as const) {
      const done = known.find((r) => r.seed === seed && r.precision === precision && r.iterations === iterations);
      if (done) {
        console.error(`seed ${seed} ${precision}: recorded in ${record} (${done.date}): test error ${done.error.toFixed(2)} %`);
        rows.push(done);
        continue;
      }
      const model = new ResNet({ depth: 20, seed, device: 'cpu' });
      const h = await new Trainer(model, { iterations, milestones, seed, precision }).fit(train, {
        eval: test, reportEvery: 100,
        onProgress: (e) => { if (e.kind === 'train' && e.iteration % 500 === 0) console.error(`seed ${seed} ${precision} it ${e.iteration} loss ${e.loss.toFixed(3)} train err ${e.trainError.toFixed(1)} %`); },
      });
      const error = h.eval.at(-1)!.error;
      rows.push({ seed, precision, iterations, error, seconds: h.seconds, ips: (iterations * 128) / h.seconds,
        cpu: os.cpus()[0]?.model ?? 'cpu', date: new Date().toISOString() });
      fs.mkdirSync(path.dirname(record), { recursive: true });
      const keep = known.filter((r) => !rows.some((n) => n.seed === r.seed && n.precision === r.precision && n.iterations === r.iterations));
      fs.writeFileSync(record, JSON.stringify([...keep, ...rows], null, 1) + '\n');
      console.error(`seed ${seed} ${precision}: test error ${error.toFixed(2)} % in ${h.seconds.toFixed(0)} s`);
      model.dispose();
    }
  }
  const fp32 = rows.filter((r) => r.precision === 'fp32').map((r) => r.error);
  const bf16 = rows.filter((r) => r.precision === 'bf16').map((r) => r.error);
  const spread = Math.max(...fp32) - Math.min(...fp32);
  const lo = Math.min(...fp32) - 0.5, hi = Math.max(...fp32) + 0.5;
  const within = bf16.every((e) => e >= lo && e <= hi);
  const cpu = info().cpu;
  const lines = [
    `# fp32 and bf16 training on CIFAR-10, side by side`,
    '',
    `ResNet-20, ${iterations} iterations of batch 128 (lr 0.1, ÷10 at ${milestones.join(' and ')}), momentum 0.9, weight decay`,
    `1e-4, per-pixel mean, trained on the 50,000 training images, test error on the 10,000 test images. Each seed fixes`,
    `the initial weights and the data order, so the two precisions of a seed start from the same point.`,
    '',
    '| seed | fp32 test error (%) | bf16 test error (%) | fp32 images/s | bf16 images/s |',
    '|---:|---:|---:|---:|---:|',
    ...seeds.map((s) => {
      const f = rows.find((r) => r.seed === s && r.precision === 'fp32')!;
      const b = rows.find((r) => r.seed === s && r.precision === 'bf16')!;
      return `| ${s} | ${f.error.toFixed(2)} | ${b.error.toFixed(2)} | ${f.ips.toFixed(0)} | ${b.ips.toFixed(0)} |`;
    }),
    '',
    `fp32 spread ${spread.toFixed(2)} points; bf16 must land within [${lo.toFixed(2)}, ${hi.toFixed(2)}] (the fp32 runs' range widened`,
    `by 0.5 points on each side): ${within ? 'it does' : 'it does NOT'}.`,
    '',
    `Measured on ${[...new Set(rows.map((r) => r.cpu))].join(' and ')} x${os.cpus().length} (bf16 path: ${cpu.bf16}), libtorch ${info().libtorch.version},`,
    `between ${rows.map((r) => r.date.slice(0, 10)).sort()[0]} and ${rows.map((r) => r.date.slice(0, 10)).sort().at(-1)}, with \`npm run accuracy:precision -- --iterations ${iterations} --seeds ${seeds.join(',')}\``,
    `(per-run records in ${path.basename(record)}). images/s include the periodic work of a real run (data, augmentation, the`,
    `final evaluation) on a 2-core machine that was also running other work: they are not a speed comparison (\`npm run bench\` is).`,
    '',
  ];
  fs.mkdirSync(path.dirname(a.out!), { recursive: true });
  fs.writeFileSync(a.out!, lines.join('\n'));
  console.log(lines.join('\n'));
  if (!within) process.exitCode = 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
