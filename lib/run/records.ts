// A run folder's records, read back: metrics.jsonl (a 'start' line for each start, then its 'train' reports and
// 'eval' results), final.json, and the time accounting over every start.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Evaluation } from '../model/evaluation';
import type { Shortcut } from '../model/resnet';
import type { Precision } from '../base/precision';
import type { CurvePoint } from '../io/plots';
import type { History } from '../train/trainer';

export interface RunFinal {
  depth: number;
  shortcut: Shortcut;
  seed: number;
  iterations: number;
  testError: number;
  testLoss: number;
  validationError?: number;
  perClass: Evaluation['perClass'];
  /** The fit's wall time (this start; evaluations and checkpoints included). */
  seconds: number;
  /**
   * Training alone, over the whole run (every start, as its history has them): each report window's iterations at
   * its images/s (evaluations and checkpoints excluded).
   */
  trainingSeconds: number;
  /** Where this start began (0, or the resumed checkpoint's iteration). */
  startIteration: number;
  checkpoint: string;
  device: string;
  libtorch: string;
  precision: Precision;
  /** What to know about the run (e.g. resumed at another precision). */
  notes?: string[];
}

/** One start of a run (the first, or a --resume), as its line in metrics.jsonl. */
export interface RunStart {
  kind: 'start';
  /** The iteration it started from (0, or the checkpoint's). */
  iteration: number;
  /** ISO time. */
  started: string;
  /** machineName(): the CPU, its cores and its bf16 path. */
  machine: string;
  device: string;
  libtorch: string;
  precision: Precision;
}

/** A run's time over all its starts, from metrics.jsonl (runTime). */
export interface RunTime {
  /** How many starts trained it (the first and each --resume whose work was kept). */
  starts: number;
  /** Wall time of the starts, each up to its last report (evaluations and checkpoints included). */
  seconds: number;
  /** Training alone: each report window's iterations at its images/s. */
  trainingSeconds: number;
  /** The distinct machines of its starts (none for starts logged before start lines were written). */
  machines: string[];
}

export function readFinal(dir: string): RunFinal | undefined {
  const f = path.join(dir, 'final.json');
  if (!fs.existsSync(f)) return undefined;
  return JSON.parse(fs.readFileSync(f, 'utf8')) as RunFinal;
}

export function readMetrics(dir: string): Record<string, number | string>[] {
  const f = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return []; // a line cut short by a kill
    }
  });
}

/**
 * A run's time over all its starts. A start is its 'start' line, or (in folders from before those lines) a report
 * whose elapsed time is below the one before it.
 */
export function runTime(dir: string, globalBatch: number): RunTime {
  let starts = 0;
  let seconds = 0;
  let startSeconds = 0;
  let lastElapsed = -1;
  const windows: WindowPoint[] = [];
  const machines = new Set<string>();
  const open = () => {
    seconds += startSeconds;
    startSeconds = 0;
    lastElapsed = -1;
    starts++;
  };
  for (const m of readMetrics(dir)) {
    if (m.kind === 'start') {
      open();
      machines.add(String(m.machine));
      windows.push({ iteration: Number(m.iteration), imagesPerSecond: 0 });
    } else if (m.kind === 'train') {
      const elapsed = Number(m.elapsed);
      if (starts === 0 || elapsed < lastElapsed) open();
      windows.push({ iteration: Number(m.iteration), imagesPerSecond: Number(m.imagesPerSecond) });
      startSeconds = lastElapsed = elapsed;
    }
  }
  seconds += startSeconds;
  return { starts, seconds, trainingSeconds: windowSeconds(windows, globalBatch), machines: [...machines] };
}

/** Train error (thin) and test/validation error (bold) of one run, for curves.svg and figure6.svg. */
export function curvePoints(dir: string): CurvePoint[] {
  return readMetrics(dir).flatMap((m): CurvePoint[] => {
    if (m.kind === 'train') return [{ iteration: Number(m.iteration), error: Number(m.trainError), curve: 'train' }];
    if (m.kind === 'eval') return [{ iteration: Number(m.iteration), error: Number(m.error), curve: String(m.split) }];
    return [];
  });
}

interface WindowPoint {
  iteration: number;
  imagesPerSecond: number;
}

/**
 * Seconds spent training: each report window's images at its images/s, the window running from the point before
 * (or 0). A point without images/s marks where a start began: the next window runs from there.
 */
function windowSeconds(points: WindowPoint[], globalBatch: number): number {
  let seconds = 0;
  points.forEach((p, i) => {
    const start = i === 0 ? 0 : points[i - 1].iteration;
    if (p.iteration > start && p.imagesPerSecond > 0) seconds += ((p.iteration - start) * globalBatch) / p.imagesPerSecond;
  });
  return seconds;
}

/** windowSeconds of a fit's history: every start's reports (a resumed fit restores them), this start's beginning marked. */
export function historySeconds(h: History, globalBatch: number): number {
  const s = h.startIteration;
  const before = h.train.filter((p) => p.iteration <= s);
  return windowSeconds([...before, { iteration: s, imagesPerSecond: 0 }, ...h.train.slice(before.length)], globalBatch);
}
