// What the CLI prints: lines on stdout, a progress bar on a TTY (log lines otherwise, JSON lines with --json), and
// an evaluation's tables.
import type { Evaluation } from '../model/evaluation';
import type { FitProgress } from '../train/fit-types';

export const out = (s: string) => process.stdout.write(s + '\n');

export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** A one-line progress bar on a TTY, plain log lines otherwise, or JSON lines. */
export function progressPrinter(json: boolean, label: string): { onProgress: (e: FitProgress) => void; end: () => void } {
  const tty = !json && process.stderr.isTTY === true;
  let last = '';
  let lastTest = '';
  const clear = () => {
    if (tty && last) process.stderr.write('\r' + ' '.repeat(last.length) + '\r');
  };
  return {
    onProgress: (e) => {
      if (json) {
        out(JSON.stringify(e.kind === 'eval' ? { kind: 'eval', iteration: e.iteration, error: e.error, loss: e.loss } : e));
        return;
      }
      if (e.kind === 'eval') {
        lastTest = ` | eval ${e.error.toFixed(2)} %`;
        clear();
        (tty ? process.stderr : process.stdout).write(`${label} eval at ${e.iteration}: error ${e.error.toFixed(2)} %, loss ${e.loss.toFixed(3)}\n`);
        return;
      }
      if (e.kind === 'checkpoint') return;
      const text = `it ${e.iteration}/${e.iterations} lr ${e.lr.toPrecision(2)} loss ${e.loss.toFixed(3)} ` +
        `train err ${e.trainError.toFixed(1)} % ${e.imagesPerSecond.toFixed(0)} img/s ETA ${duration(e.eta)}`;
      if (tty) {
        const width = 24;
        const done = Math.round((width * e.iteration) / e.iterations);
        const line = `${label} [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${text}${lastTest}`;
        const cols = process.stderr.columns || 160;
        clear();
        last = line.slice(0, cols - 1);
        process.stderr.write(last);
      } else {
        out(`${label} ${text}`);
      }
    },
    end: () => {
      if (tty && last) process.stderr.write('\n');
      last = '';
    },
  };
}

/** An evaluation's error, per-class table and confusion matrix. */
export function printEvaluation(r: Evaluation, classes: readonly string[], what: string): void {
  out(`${what}: test error ${r.error.toFixed(2)} % (loss ${r.loss.toFixed(4)}) on ${r.count} images`);
  out('');
  out('class        images  error %');
  for (const c of r.perClass) out(`${c.name.padEnd(12)} ${String(c.count).padStart(6)}  ${c.error.toFixed(2).padStart(7)}`);
  out('');
  out('confusion (rows: true class, columns: predicted)');
  const short = classes.map((c) => c.slice(0, 5));
  out(' '.repeat(12) + short.map((s) => s.padStart(6)).join(''));
  r.confusion.forEach((row, i) => out(classes[i].padEnd(12) + row.map((x) => String(x).padStart(6)).join('')));
}
