// Crash safety: a child process trains with frequent checkpoints and is killed with SIGKILL at random moments,
// including during checkpoint writes. After every kill the checkpoint on disk must load, and the run resumed to
// the end must reach the weights of an uninterrupted run. The moments are drawn from the run's own progress (the
// iteration it reports, then a few ms), never from wall-clock guesses, so every kill lands on any machine's speed
// and the run always has room left for all of them.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResNet } from '../../lib/index';

const ROOT = path.resolve(__dirname, '../..');

export interface CrashReport {
  kills: number;
  killedMidWrite: number;
  checkpointsLoaded: number;
  resumedIterations: number[];
  maxAbsDiff: number;
}

function childScript(data: string, dir: string, iterations: number): string {
  return `
    const { Cifar10, ResNet, Trainer } = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    (async () => {
      const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'test' });
      const m = new ResNet({ depth: 8, device: 'cpu', seed: 1 });
      const h = await new Trainer(m, { iterations: ${iterations}, batchSize: 8, seed: 2, milestones: [${Math.floor(iterations / 2)}] })
        .fit(data, { reportEvery: 1, checkpoint: { dir: ${JSON.stringify(dir)}, every: 2, resume: true },
          onProgress: (p) => { if (p.kind === 'train') process.stdout.write('it ' + p.iteration + '\\n'); } });
      process.stdout.write('done ' + h.startIteration + ' ' + h.iterations + '\\n');
    })().catch((e) => { process.stderr.write(String(e && e.message) + '\\n'); process.exit(3); });`;
}

/** Runs the child; with `kill`, SIGKILLs it `delayMs` after it reports reaching `iteration`. */
function run(script: string, kill?: { iteration: number; delayMs: number }): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Slow checkpoint writes (fault injection) so that many kills land inside one.
    const env = { ...process.env, RESNET_CIFAR_WRITE_DELAY_MS: '40' };
    const c = spawn(process.execPath, ['--import=tsx', '-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let pending = '';
    c.stdout.on('data', (d) => {
      stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) {
        const m = /^it (\d+)$/.exec(l);
        if (kill && !timer && m && Number(m[1]) >= kill.iteration) timer = setTimeout(() => c.kill('SIGKILL'), kill.delayMs);
      }
    });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('close', (code, signal) => { if (timer) clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

async function logits(file: string): Promise<Float32Array> {
  const m = await ResNet.load(file, { device: 'cpu' });
  const x = new Float32Array(4 * 3072).map((_, i) => Math.sin(i));
  const out = await m.predict(x);
  m.dispose();
  return out;
}

/**
 * `kills` SIGKILLs at moments drawn from the run's progress: each after a random iteration within the next share of
 * what is left (so that all fit before the end), a random 0-60 ms later; then the run is finished.
 */
export async function crashSafety(data: string, workDir: string, kills: number, iterations = 400, log: (s: string) => void = () => undefined): Promise<CrashReport> {
  const ref = path.join(workDir, 'straight');
  const crash = path.join(workDir, 'killed');
  fs.mkdirSync(ref, { recursive: true });
  fs.mkdirSync(crash, { recursive: true });
  const straight = await run(childScript(data, ref, iterations));
  if (straight.code !== 0) throw new Error(`reference run failed: ${straight.stderr}`);
  const report: CrashReport = { kills: 0, killedMidWrite: 0, checkpointsLoaded: 0, resumedIterations: [], maxAbsDiff: NaN };
  const file = path.join(crash, 'checkpoint.pt');
  let at = 0; // the iteration the checkpoint on disk holds
  while (report.kills < kills) {
    const share = Math.max(1, Math.floor((iterations - at) / (kills - report.kills + 1)));
    const r = await run(childScript(data, crash, iterations), { iteration: at + 1 + Math.floor(Math.random() * share), delayMs: Math.random() * 60 });
    if (r.signal !== 'SIGKILL') {
      if (r.code === 0) break; // it finished before the kill: enough
      throw new Error(`child failed (${r.code}): ${r.stderr}`);
    }
    report.kills++;
    if (fs.readdirSync(crash).some((f) => f.includes('.tmp-'))) report.killedMidWrite++;
    if (fs.existsSync(file)) {
      const m = await ResNet.load(file, { device: 'cpu' }); // must load: never a half-written checkpoint
      report.resumedIterations.push(Number(m.meta.iteration));
      at = Number(m.meta.iteration) || at;
      m.dispose();
      report.checkpointsLoaded++;
    }
    log(`kill ${report.kills}: checkpoint at iteration ${report.resumedIterations.at(-1) ?? '-'}`);
  }
  const end = await run(childScript(data, crash, iterations));
  if (end.code !== 0) throw new Error(`final resume failed: ${end.stderr}`);
  const [a, b] = await Promise.all([logits(path.join(ref, 'checkpoint.pt')), logits(file)]);
  report.maxAbsDiff = a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i])), 0);
  if (fs.readdirSync(crash).some((f) => f.includes('.tmp-'))) throw new Error('stale temporary checkpoint files were left behind');
  return report;
}
