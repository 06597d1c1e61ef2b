// reproduce's report: table.md (mean ± std test error beside the paper's and the seed article's) and figure6.svg.
import * as path from 'node:path';
import { writeAtomic } from '../base/files';
import { networkFamily, networkLabel, runName } from '../base/names';
import { PAPER_TEST_ERRORS, SEED_ARTICLE_TEST_ERRORS } from '../base/paper';
import { writeCurves, type CurvePoint } from '../io/plots';
import type { Shortcut } from '../model/resnet';
import { curvePoints, readFinal, type RunFinal } from '../run';

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** table.md and figure6.svg from whatever runs under `dir` have finished (or progressed). */
export async function writeReport(dir: string, depths: number[], shortcuts: Shortcut[], seeds: number): Promise<void> {
  const rows: string[] = [
    '| network | layers | runs | test error (%) mean ± std | paper | seed article |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const points: CurvePoint[] = [];
  for (const shortcut of shortcuts) {
    for (const depth of depths) {
      const finals: RunFinal[] = [];
      const perIter = new Map<string, number[]>();
      for (let s = 0; s < seeds; s++) {
        const runDir = path.join(dir, 'runs', runName(depth, shortcut, s));
        const f = readFinal(runDir);
        if (f) finals.push(f);
        for (const p of curvePoints(runDir)) {
          const key = `${p.curve === 'train' ? 'train' : 'test'}|${p.iteration}`;
          perIter.set(key, [...(perIter.get(key) ?? []), p.error]);
        }
      }
      const family = networkFamily(shortcut);
      for (const [key, errs] of perIter) {
        const [curve, it] = key.split('|');
        points.push({ iteration: Number(it), error: meanStd(errs).mean, curve, series: `${depth}-layer`, panel: family });
      }
      const ms = finals.length ? meanStd(finals.map((f) => f.testError)) : undefined;
      const paper = shortcut === 'A' ? PAPER_TEST_ERRORS[depth] : undefined;
      const seedArticle = shortcut === 'A' ? SEED_ARTICLE_TEST_ERRORS[depth] : undefined;
      rows.push(`| ${networkLabel(depth, shortcut)} | ${depth} | ${finals.length}/${seeds} | ${ms ? `${ms.mean.toFixed(2)} ± ${ms.std.toFixed(2)}` : '–'} | ` +
        `${paper?.toFixed(2) ?? '–'} | ${seedArticle?.toFixed(2) ?? '–'} |`);
    }
  }
  const any = readFinal(path.join(dir, 'runs', runName(depths[0], shortcuts[0], 0)));
  const lines = [
    '# CIFAR-10 test error, ours beside the paper\'s',
    '',
    ...rows,
    '',
    'Paper: He et al. 2016, Table 6 (best of 5 for 110: 6.43; mean 6.61 ± 0.16). Seed article: its own PyTorch',
    'reproduction (mean of runs). Ours: mean ± sample std over the finished runs listed, each evaluated on the',
    `10,000 test images after training${any ? ` for ${any.iterations} iterations on ${any.device} (libtorch ${any.libtorch})` : ''}.`,
    '',
  ];
  writeAtomic(path.join(dir, 'table.md'), lines.join('\n'));
  const panels = shortcuts.map(networkFamily);
  if (points.length) {
    await writeCurves(path.join(dir, 'figure6.svg'), points, { panels, title: 'CIFAR-10: training (thin) and test (bold) error', png: true });
  }
}
