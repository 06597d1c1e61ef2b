// resnet-cifar reproduce: the paper's CIFAR-10 table and Figure 6, every depth × seed (× plain) as its own run
// folder; finished runs are skipped and interrupted ones resumed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINT_FILE } from '../io/checkpoint';
import { runLabel, runName } from '../base/names';
import { REPORT_EVERY } from '../base/recipe';
import { readFinal, trainRun } from '../run';
import type { Shortcut } from '../model/resnet';
import { DATA, UsageError, dataArg, depthArg, int, list, parse, str } from './args';
import { help } from './help';
import { out, progressPrinter } from './output';
import { writeReport } from './report';
import { stopSignal } from './signals';
import { JSON_REPORT_EVERY } from './train';
import { trainConfig } from './train-config';
import { runWorkers, type PendingRun } from './workers';

/** The seed article's depths, and the paper's runs per network. */
const REPRODUCE_DEPTHS = [20, 32, 44, 56] as const;
const REPRODUCE_SEEDS = 5;

export async function cmdReproduce(argv: string[]): Promise<number> {
  const { values } = parse('reproduce', argv, {
    ...DATA, depths: { type: 'string' }, seeds: { type: 'string' }, plain: { type: 'boolean' },
    iterations: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, 'batch-size': { type: 'string' },
    lr: { type: 'string' }, 'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' },
    precision: { type: 'string' }, workers: { type: 'string' }, 'no-cuda-graphs': { type: 'boolean' },
  });
  if (values.help) return help('reproduce');
  if (!values.out) throw new UsageError('reproduce needs --out DIR');
  const json = values.json === true;
  const depths = list('depths', str(values, 'depths'), [...REPRODUCE_DEPTHS]).map((d) => depthArg(String(d), 20));
  const seeds = int('seeds', str(values, 'seeds'), REPRODUCE_SEEDS, 1);
  const shortcuts: Shortcut[] = values.plain ? ['plain', 'A'] : ['A'];
  const dir = path.resolve(values.out as string);
  const workers = int('workers', str(values, 'workers'), 1, 1);
  const data = await dataArg(values, json);
  const stop = stopSignal();
  let trained = 0;
  let skipped = 0;
  try {
    // Every (shortcut, depth, seed) without final.json; each one's options are checked before any run starts.
    const runs: PendingRun[] = [];
    for (const shortcut of shortcuts) {
      for (const depth of depths) {
        for (let seed = 0; seed < seeds; seed++) {
          const name = runName(depth, shortcut, seed);
          const label = runLabel(depth, shortcut, seed);
          const runDir = path.join(dir, 'runs', name);
          if (readFinal(runDir)) {
            skipped++;
            if (json) out(JSON.stringify({ kind: 'skipped', run: name }));
            else out(`${label}: finished earlier, skipped`);
            continue;
          }
          trainConfig(values, depth, shortcut, seed);
          runs.push({ depth, shortcut, seed, runDir, name, label });
        }
      }
    }
    const report = () => writeReport(dir, depths, shortcuts, seeds);
    if (workers > 1) {
      const passOn = ['iterations', 'device', 'batch-size', 'lr', 'eval-every', 'checkpoint-every', 'precision']
        .flatMap((k) => (values[k] === undefined ? [] : [`--${k}`, values[k] as string]))
        .concat(values['no-cuda-graphs'] ? ['--no-cuda-graphs'] : []);
      trained = await runWorkers(runs, { workers, data, passOn, json, stop, report });
    } else {
      for (const { depth, shortcut, seed, runDir, name, label } of runs) {
        if (stop.stopped()) break;
        const config = trainConfig(values, depth, shortcut, seed);
        const resume = fs.existsSync(path.join(runDir, CHECKPOINT_FILE));
        if (!json) out(`${label}: ${resume ? 'resuming' : 'training'} (${config.iterations} iterations) -> ${runDir}`);
        const p = progressPrinter(json, label);
        const r = await trainRun({ data, out: runDir, config, resume, signal: stop.signal, onProgress: p.onProgress, reportEvery: json ? JSON_REPORT_EVERY : REPORT_EVERY });
        p.end();
        if (r.final) {
          trained++;
          if (json) out(JSON.stringify({ kind: 'final', run: name, testError: r.final.testError }));
          else out(`${label}: test error ${r.final.testError.toFixed(2)} %`);
        }
        await report();
      }
    }
    await report();
    if (json) out(JSON.stringify({ kind: 'done', trained, skipped, table: path.join(dir, 'table.md'), figure: path.join(dir, 'figure6.svg') }));
    else {
      out(`${trained} run(s) trained, ${skipped} found finished; ${path.join(dir, 'table.md')}, ${path.join(dir, 'figure6.svg')}`);
      out(fs.readFileSync(path.join(dir, 'table.md'), 'utf8'));
    }
    return stop.stopped() ? 130 : 0;
  } finally {
    stop.dispose();
  }
}
