// npm run test:stress -- [--fuzz-rounds 300] [--kills 25] [--cycles 1000] [--data DIR]
//                        [--areas fuzz,files,crash,leaks,lag,sanitize]
// The long reliability checks, one line per area with its figures; exits non-zero on any failure. Each area runs
// in a child process, so a crash is counted (and reported) instead of ending the script.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');
const { values: a } = parseArgs({
  options: {
    'fuzz-rounds': { type: 'string', default: '300' },
    kills: { type: 'string', default: '25' },
    cycles: { type: 'string', default: '1000' },
    data: { type: 'string' },
    areas: { type: 'string', default: 'fuzz,files,crash,leaks,lag,sanitize' },
  },
});
const areas = new Set(a.areas!.split(','));

function fakeData(): string {
  const helpers = require(path.join(ROOT, 'test/helpers/index.ts')) as { fakeCifarDir: () => string };
  return helpers.fakeCifarDir();
}
const data = a.data ?? (process.env.CIFAR10_DIR && fs.existsSync(path.join(process.env.CIFAR10_DIR, 'test_batch.bin')) ? process.env.CIFAR10_DIR : fakeData());
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-stress-'));

interface Child { code: number | null; signal: string | null; json: Record<string, unknown> | undefined; stderr: string; seconds: number }

function child(code: string, args: string[] = []): Promise<Child> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import=tsx', ...args, '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('close', (exit, signal) => {
      const last = out.trim().split('\n').pop();
      let json: Record<string, unknown> | undefined;
      try {
        json = last ? JSON.parse(last) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: exit, signal, json, stderr, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

const req = (m: string) => `require(${JSON.stringify(path.join(ROOT, m))})`;
let failures = 0;
function line(area: string, ok: boolean, text: string, r?: Child): void {
  if (!ok) failures++;
  const crash = r?.signal ? ` CRASHED (${r.signal})` : '';
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${area.padEnd(13)} ${text}${crash}${r ? ` [${r.seconds.toFixed(0)} s]` : ''}`);
  if (!ok && r?.stderr) console.log(r.stderr.split('\n').slice(-8).map((l) => `     ${l}`).join('\n'));
}

async function main() {
  console.log(`resnet-cifar stress: data ${data}, scratch ${tmp}`);

  if (areas.has('fuzz')) {
  const fz = await child(`
    (async () => {
      const { Cifar10 } = ${req('lib/index.ts')};
      const { fuzz } = ${req('test/stress/api-arguments.ts')};
      const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'test' });
      const dir = require('node:fs').mkdtempSync(${JSON.stringify(path.join(tmp, 'fuzz-'))});
      const r = await fuzz(data, dir, ${Number(a['fuzz-rounds'])}, ${Date.now() % 1e9});
      console.log(JSON.stringify(r));
    })();`);
  const f = fz.json as { cases: number; thrown: number; byType: Record<string, number>; problems: string[]; seed: number } | undefined;
  line('fuzzing', fz.code === 0 && !!f && f.problems.length === 0,
    f ? `${f.cases} cases (seed ${f.seed}), ${f.thrown} JS errors (${Object.entries(f.byType).map(([k, v]) => `${k} ${v}`).join(', ')}), ${f.problems.length} problems, crashes ${fz.signal ? 1 : 0}` : 'no result', fz);
  }

  if (areas.has('files')) {
  const bad = await child(`
    const { spawnSync } = require('node:child_process');
    const r = spawnSync(process.execPath, [${JSON.stringify(path.join(ROOT, 'node_modules/ava/entrypoints/cli.mjs'))}, 'test/damaged-files.test.ts', 'test/concurrency.test.ts'], { encoding: 'utf8', env: { ...process.env, CIFAR10_DIR: ${JSON.stringify(data)} } });
    const out = r.stdout + r.stderr;
    const ok = (out.match(/^\\s*✔/gm) || []).length, notOk = (out.match(/^\\s*✘/gm) || []).length;
    console.log(JSON.stringify({ ok, notOk, status: r.status, signal: r.signal }));`);
  const b = bad.json as { ok: number; notOk: number; status: number } | undefined;
  line('bad files +', !!b && b.notOk === 0 && b.ok > 0 && b.status === 0,
    b ? `concurrency: ${b.ok} checks passed, ${b.notOk} failed (damaged batches, archives, checkpoints, TorchScript; two trainers, predict while training, dispose while pending, exit while training)` : 'no result', bad);
  }

  if (areas.has('crash')) {
  const cr = await child(`
    (async () => {
      const { crashSafety } = ${req('test/stress/crash.ts')};
      const r = await crashSafety(${JSON.stringify(data)}, require('node:fs').mkdtempSync(${JSON.stringify(path.join(tmp, 'crash-'))}), ${Number(a.kills)}, 1200);
      console.log(JSON.stringify(r));
    })().catch((e) => { console.error(e.message); process.exit(1); });`);
  const c = cr.json as { kills: number; killedMidWrite: number; checkpointsLoaded: number; maxAbsDiff: number } | undefined;
  line('crash safety', cr.code === 0 && !!c && c.kills === Number(a.kills) && c.maxAbsDiff === 0,
    c ? `${c.kills} SIGKILLs survived (${c.killedMidWrite} during a checkpoint write), ${c.checkpointsLoaded} checkpoints loaded, resumed run max |Δlogit| ${c.maxAbsDiff}` : 'no result', cr);
  }

  if (areas.has('leaks')) {
  const lk = await child(`
    (async () => {
      const { Cifar10 } = ${req('lib/index.ts')};
      const { cycles, collected } = ${req('test/stress/leak.ts')};
      const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'test' });
      const c = await cycles(data, ${Number(a.cycles)});
      const g = await collected(200);
      console.log(JSON.stringify({ ...c, gcModels: g.models, gcGrowth: g.growthMiB }));
    })();`);
  const l = lk.json as { cycles: number; growthMiB: number; baseMiB: number; gcModels: number; gcGrowth: number } | undefined;
  line('leaks', lk.code === 0 && !!l && l.growthMiB < 50 && l.gcGrowth < 200,
    l ? `${l.cycles} create/predict/train/dispose cycles: RSS growth ${l.growthMiB.toFixed(1)} MiB after cycle 50 (base ${l.baseMiB.toFixed(0)} MiB); ${l.gcModels} ResNet-56 dropped without dispose: growth ${l.gcGrowth.toFixed(1)} MiB (680 MiB if leaked)` : 'no result', lk);
  }

  if (areas.has('lag')) {
  const lag = await child(`
    (async () => {
      const { Cifar10, ResNet, Trainer } = ${req('lib/index.ts')};
      const data = await Cifar10.load(${JSON.stringify(data)}, { split: 'train' }).catch(() => Cifar10.load(${JSON.stringify(data)}, { split: 'test' }));
      const m = new ResNet({ depth: 20, device: 'cpu' });
      const lags = []; let last = performance.now();
      const timer = setInterval(() => { const now = performance.now(); lags.push(now - last - 10); last = now; }, 10);
      const h = await new Trainer(m, { iterations: 150 }).fit(data, { reportEvery: 10, onProgress: () => {} });
      clearInterval(timer);
      lags.sort((x, y) => x - y);
      console.log(JSON.stringify({ ticks: lags.length, p99: lags[Math.floor(lags.length * 0.99)], max: lags[lags.length - 1], ips: 150 * 128 / h.seconds }));
    })();`);
  const g = lag.json as { ticks: number; p99: number; max: number; ips: number } | undefined;
  line('event loop', lag.code === 0 && !!g && g.p99 < 20,
    g ? `10 ms timer during ResNet-20 training at ${g.ips.toFixed(0)} img/s: ${g.ticks} ticks, lag p99 ${g.p99.toFixed(2)} ms, max ${g.max.toFixed(1)} ms` : 'no result', lag);
  }

  if (areas.has('sanitize')) sanitizerArea();

  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(failures ? `${failures} area(s) failed` : 'all areas passed');
  process.exitCode = failures ? 1 : 0;
}

// The tests that read files (hostile and damaged files, checkpoints, CIFAR-10) and the native core test, against
// an AddressSanitizer + UndefinedBehaviorSanitizer build (scripts/build/build.js --sanitize, in .asan/) with Node started
// with the runtimes preloaded. Any report stops its process (halt_on_error) and fails the area; each is counted and
// said to be in our frames or not.
const SANITIZED_TESTS = ['test/hostile-files.test.ts', 'test/damaged-files.test.ts', 'test/checkpoint.test.ts', 'test/cifar10.test.ts',
  'test/download.test.ts', 'test/model.test.ts'];

function sanitizerArea(): void {
  const t0 = Date.now();
  const built = spawnSync(process.execPath, ['scripts/build/build.js', '--sanitize'], { cwd: ROOT, encoding: 'utf8' });
  const core = built.status === 0
    ? spawnSync('cmake', ['--build', path.join(ROOT, '.asan'), '--target', 'core_test'], { cwd: ROOT, encoding: 'utf8' }) : built;
  if (built.status !== 0 || core.status !== 0) {
    line('sanitizers', false, `the ASan + UBSan build failed:\n${(built.stderr + core.stderr + core.stdout).slice(-3000)}`);
    return;
  }
  const logs = fs.mkdtempSync(path.join(tmp, 'asan-'));
  const gcc = (lib: string) => spawnSync('g++', [`-print-file-name=${lib}`], { encoding: 'utf8' }).stdout.trim();
  const env = {
    ...process.env, CIFAR10_DIR: data, RESNET_CIFAR_ADDON: path.join(ROOT, '.asan/Release/resnet_cifar.node'),
    ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:log_path=${logs}/asan`,
    UBSAN_OPTIONS: `halt_on_error=1:print_stacktrace=1:log_path=${logs}/ubsan`,
  };
  const coreRun = spawnSync(path.join(ROOT, '.asan/core_test'), { cwd: ROOT, env, encoding: 'utf8' });
  const ava = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/ava/entrypoints/cli.mjs'), ...SANITIZED_TESTS],
    { cwd: ROOT, env: { ...env, LD_PRELOAD: [gcc('libasan.so'), gcc('libubsan.so')].join(':') }, encoding: 'utf8' });
  const out = ava.stdout + ava.stderr;
  const passed = (out.match(/^\s*✔/gm) || []).length, failed = (out.match(/^\s*✘/gm) || []).length;
  const reports = fs.readdirSync(logs).map((f) => fs.readFileSync(path.join(logs, f), 'utf8')).filter((r) => /ERROR|runtime error/.test(r));
  const ours = reports.filter((r) => /resnet_cifar/.test(r)).length;
  const ok = coreRun.status === 0 && ava.status === 0 && failed === 0 && passed > 0 && reports.length === 0;
  line('sanitizers', ok, `ASan + UBSan: native core test ${coreRun.status === 0 ? 'passed' : `failed (${coreRun.status ?? coreRun.signal})`}, ` +
    `${passed} file-reading tests passed, ${failed} failed; ${reports.length} sanitizer reports (${ours} in our frames) ` +
    `[${((Date.now() - t0) / 1000).toFixed(0)} s]`);
  if (!ok) console.log([...reports.slice(0, 2), coreRun.stdout.slice(-1500), out.slice(-3000)].join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
