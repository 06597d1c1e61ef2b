// reproduce --workers N: pending runs as `train --json` child processes, at most N at a time.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHECKPOINT_FILE } from '../io/checkpoint';
import { RunError, readFinal } from '../run';
import type { Shortcut } from '../model/resnet';
import { withoutTorchrun } from '../base/torchrun';
import { cliChildren } from './children';
import { out } from './output';
import type { StopSignal } from './signals';

export interface PendingRun { depth: number; shortcut: Shortcut; seed: number; runDir: string; name: string; label: string }

/**
 * reproduce --workers N: each pending run is a `train --json` child process (OMP_NUM_THREADS = cores / N), at most N
 * at a time. Their progress comes back as JSON lines, printed with the run's name; the report is rewritten after
 * each finished run. Ctrl-C reaches every child, which stop with a checkpoint. A failed child lets the others finish,
 * no new one starts, and the error names each failed run with the end of its stderr. Resolves with the number of
 * runs finished.
 */
export async function runWorkers(runs: PendingRun[], o: { workers: number; data: string; passOn: string[]; json: boolean;
  stop: StopSignal; report: () => Promise<void> }): Promise<number> {
  const threads = Math.max(1, Math.floor(os.availableParallelism() / o.workers));
  const env: NodeJS.ProcessEnv = { ...withoutTorchrun(process.env), OMP_NUM_THREADS: String(threads) };
  const children = cliChildren();
  const failures: string[] = [];
  let finished = 0;
  let next = 0;
  if (!o.json) out(`${runs.length} run(s) over ${o.workers} workers, ${threads} thread(s) each`);
  const one = (r: PendingRun) => new Promise<void>((resolve) => {
    const { name, label } = r;
    const resume = fs.existsSync(path.join(r.runDir, CHECKPOINT_FILE));
    const args = ['train', '--json', '--out', r.runDir, '--depth', String(r.depth), '--shortcut', r.shortcut, '--seed', String(r.seed),
      '--data', o.data, ...o.passOn, ...(resume ? ['--resume'] : [])];
    const child = children.spawn(args, env, ['ignore', 'pipe', 'pipe']);
    if (o.json) out(JSON.stringify({ kind: 'start', run: name, resume, pid: child.pid }));
    else out(`${label}: ${resume ? 'resuming' : 'training'} in worker ${child.pid} -> ${r.runDir}`);
    let err = '';
    let buf = '';
    let shown = 0;
    child.stderr!.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: Record<string, unknown>;
        try { e = JSON.parse(line); } catch { continue; }
        if (o.json) { out(JSON.stringify({ run: name, ...e })); continue; }
        if (e.kind === 'eval') out(`${label} eval at ${e.iteration}: error ${(e.error as number).toFixed(2)} %`);
        else if (e.kind === 'train' && (e.iteration as number) >= shown + (e.iterations as number) / 20) {
          shown = e.iteration as number;
          out(`${label} it ${e.iteration}/${e.iterations} loss ${(e.loss as number).toFixed(3)} train err ${(e.trainError as number).toFixed(1)} %`);
        }
      }
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        finished++;
        const f = readFinal(r.runDir);
        if (o.json) out(JSON.stringify({ kind: 'final', run: name, testError: f?.testError }));
        else out(`${label}: test error ${f?.testError.toFixed(2)} %`);
      } else if (code === 130 && o.stop.stopped()) {
        if (!o.json) out(`${label}: stopped with a checkpoint`);
      } else {
        const why = err.trim().split('\n').filter((l) => l.trim()).slice(-3).map((l) => l.replace(/^resnet-cifar: /, '')).join(' / ') || 'no message';
        failures.push(`${name} (exit ${code ?? signal}): ${why}`);
        if (o.json) out(JSON.stringify({ kind: 'failed', run: name, code, signal, error: why }));
        else process.stderr.write(`${label}: failed (exit ${code ?? signal}): ${why}\n`);
      }
      o.report().then(() => resolve(), (e) => { failures.push(`report: ${(e as Error).message}`); resolve(); });
    });
  });
  const lane = async () => {
    while (next < runs.length && !o.stop.stopped() && failures.length === 0) await one(runs[next++]);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.workers, runs.length) }, lane));
  } finally {
    children.dispose();
  }
  if (failures.length) throw new RunError(`${failures.length} run(s) failed, the others ${o.stop.stopped() ? 'stopped' : 'finished or were not started'}: ${failures.join('; ')}`);
  return finished;
}
