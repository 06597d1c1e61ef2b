// npm run fuzz -- [--minutes M] [--target T[,T…]] [--jobs J] [--no-build]
// Coverage-guided fuzzing of every native reader of untrusted bytes (test/fuzz/*.cc, one libFuzzer target each)
// under AddressSanitizer and UndefinedBehaviorSanitizer, no recovery: a report, a crash, a hang (-timeout), one
// allocation over -malloc_limit_mb or a process over -rss_limit_mb is a finding. Our code is instrumented (coverage
// and sanitizers); libtorch, linked as it is installed, is not. Builds with Debian's clang into .fuzz/ (only
// what changed), seeds each target from real files (test/fuzz/seeds.py and our own checkpoints), runs the targets
// one after another for M minutes each (J at once with --jobs), then prints one row per target. Every finding is
// copied to test/hostile/ (named for its target), where npm test replays it through the public API.
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');
const BUILD = path.join(ROOT, '.fuzz'); // not build/: cmake-js's rebuild empties that
const HARNESSES = path.join(ROOT, 'test/fuzz');
const HOSTILE = path.join(ROOT, 'test/hostile');
// The bounds a finding is measured against: far above what any reader needs for a 1 MB input.
const RSS_LIMIT_MB = 2048;
const MALLOC_LIMIT_MB = 512;
const TIMEOUT_S = 20;
const MAX_LEN = 1 << 20;
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
// How a finding of each target becomes a file the public API opens (the pickle target's header put back, a JSON
// input put into a safetensors header, a .tar.gz as it is); cifar_batch's inputs are padded to 30 MB and stay in
// .fuzz/findings.
const REPLAY: Record<string, (input: Buffer) => { ext: string; data: Buffer } | undefined> = {
  torch_save: (b) => ({ ext: '.pt', data: b }),
  zip: (b) => ({ ext: '.pt', data: b }),
  safetensors: (b) => ({ ext: '.safetensors', data: b }),
  pickle: (b) => ({ ext: '.pt', data: Buffer.concat([legacyHeader(), b]) }),
  json: (b) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    return { ext: '.safetensors', data: Buffer.concat([len, b]) };
  },
  cifar_batch: () => undefined,
  idx: (b) => ({ ext: '.idx', data: b }),
  png: (b) => ({ ext: '.png', data: b }),
  jpeg: (b) => ({ ext: '.jpg', data: b }),
  tar_gz: (b) => ({ ext: '.tar.gz', data: b }),
};

const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    target: { type: 'string' },
    jobs: { type: 'string', default: '1' },
    'no-build': { type: 'boolean', default: false },
  },
});
const targets = fs.readdirSync(HARNESSES).filter((f) => f.endsWith('.cc')).map((f) => f.slice(0, -3)).sort();
const chosen = a.target ? a.target.split(',') : targets;
for (const t of chosen) if (!targets.includes(t)) throw new Error(`no fuzz target '${t}' (targets: ${targets.join(', ')})`);

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): void {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} … failed (exit ${r.status ?? r.signal})`);
}

function clang(): string {
  for (const c of ['clang++', 'clang++-14', 'clang++-15', 'clang++-16']) {
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c;
  }
  throw new Error('npm run fuzz needs clang with libFuzzer: apt-get install clang libclang-rt-14-dev');
}

function legacyHeader(): Buffer {
  // Must equal kHeader in test/fuzz/pickle.cc: torch.save's legacy magic, protocol 1001, {'little_endian': True}.
  return Buffer.from('80028a0a6cfc9c46f9206aa850192e80024de9032e80027d7100580d0000006c6974746c655f656e6469616e7101887' +
    '32e', 'hex');
}

const newer = (out: string, inputs: string[]) =>
  fs.existsSync(out) && inputs.every((i) => fs.statSync(i).mtimeMs <= fs.statSync(out).mtimeMs);

/** The instrumented core (one unit, as the addon builds it) and one binary per target. */
function build(): Record<string, string> {
  const cxx = clang();
  const lt = require(path.join(ROOT, 'scripts/build/libtorch.js')).find() as { includeDirs: string[]; libDir: string; openmp?: string };
  const jpegDir = path.join(ROOT, 'native/third_party/libjpeg-turbo/src');
  const flags = ['-std=c++20', '-g', '-O1', '-fno-omit-frame-pointer', ...SANITIZE, '-fsanitize=fuzzer-no-link',
    ...lt.includeDirs.flatMap((d) => ['-isystem', d]), '-isystem', jpegDir, '-Wno-unknown-pragmas',
    '-Wno-ignored-optimization-argument'];
  fs.mkdirSync(path.join(BUILD, 'obj', 'jpeg'), { recursive: true });
  // The vendored JPEG decompressor (C), instrumented as our code is: its Huffman decoder and IDCTs are what the jpeg
  // target's inputs reach.
  const { JPEG_FILES } = require(path.join(ROOT, 'scripts/build/sources.js')) as { JPEG_FILES: string[] };
  const jpegSources = fs.readdirSync(jpegDir, { recursive: true }).map((f) => path.join(jpegDir, f as string));
  const jpegObjects = JPEG_FILES.map((f) => {
    const obj = path.join(BUILD, 'obj', 'jpeg', path.basename(f).replace(/\.c$/, '.o'));
    if (!newer(obj, jpegSources.filter((p) => fs.statSync(p).isFile()))) {
      run(cxx.replace('clang++', 'clang'), ['-g', '-O1', '-fno-omit-frame-pointer', ...SANITIZE, '-fsanitize=fuzzer-no-link',
        '-I', jpegDir, '-c', path.join(ROOT, f), '-o', obj]);
    }
    return obj;
  });
  const listed = spawnSync('node', ['scripts/build/sources.js', '--write', path.join(BUILD, 'unity')], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`scripts/build/sources.js failed: ${listed.stderr}`);
  const core = listed.stdout.trim().split('\n').filter((f) => /unity\/core\.cc$|native\/core\/.+\.cc$/.test(f));
  const headers = (fs.readdirSync(path.join(ROOT, 'native/core'), { recursive: true }) as string[]).map((f) => path.join(ROOT, 'native/core', f));
  const objects = core.map((src) => {
    const obj = path.join(BUILD, 'obj', path.basename(src).replace(/\.cc$/, '.o'));
    if (!newer(obj, [src, ...headers])) {
      console.log(`fuzz: compiling ${path.relative(ROOT, src)} (instrumented)`);
      run(cxx, [...flags, '-c', src, '-o', obj]);
    }
    return obj;
  }).concat(jpegObjects);
  const bins: Record<string, string> = {};
  for (const t of chosen) {
    const src = path.join(HARNESSES, `${t}.cc`);
    const bin = path.join(BUILD, t);
    if (!newer(bin, [src, path.join(HARNESSES, 'harness.h'), ...objects])) {
      console.log(`fuzz: building target ${t}`);
      run(cxx, [...flags.filter((f) => f !== '-fsanitize=fuzzer-no-link'), '-fsanitize=fuzzer', src, ...objects,
        `-L${lt.libDir}`, '-ltorch', '-ltorch_cpu', '-lc10', ...(lt.openmp ? [lt.openmp] : []),
        `-Wl,-rpath,${lt.libDir}`, '-Wl,--no-as-needed', '-o', bin]);
    }
    bins[t] = bin;
  }
  return bins;
}

/** Seed corpora: real files written by PyTorch and safetensors (test/fuzz/seeds.py), and ours by the library. */
async function seeds(): Promise<string> {
  const dir = path.join(BUILD, 'seeds');
  // Made again when seeds.py changes (a new target's seeds).
  const made = crypto.createHash('sha256').update(fs.readFileSync(path.join(HARNESSES, 'seeds.py'))).digest('hex');
  const done = path.join(dir, '.done');
  if (fs.existsSync(done) && fs.readFileSync(done, 'utf8') === made) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  const ours = path.join(BUILD, 'ours');
  fs.mkdirSync(ours, { recursive: true });
  const { ResNet, Trainer, Cifar10 } = require(path.join(ROOT, 'lib/index.ts')) as typeof import('../../lib/index');
  const m = new ResNet({ depth: 8, device: 'cpu', seed: 1 });
  await m.save(path.join(ours, 'ours.pt'), { meta: { run: 'seed', list: [1, [2, 3]] } });
  await m.save(path.join(ours, 'ours.safetensors'), { meta: { run: 'seed' } });
  await m.save(path.join(ours, 'seed-layout.pt'), { format: 'state-dict' });
  await m.save(path.join(ours, 'akamaster-layout.pt'), { format: 'akamaster' });
  const data = process.env.CIFAR10_DIR ? await Cifar10.load(process.env.CIFAR10_DIR, { split: 'test' }).catch(() => undefined) : undefined;
  if (data) {
    const tdir = path.join(BUILD, 'trainer');
    await new Trainer(m, { iterations: 2, batchSize: 4, milestones: [] }).fit(data, { checkpoint: { dir: tdir } });
    fs.copyFileSync(path.join(tdir, 'checkpoint.pt'), path.join(ours, 'with-trainer.pt'));
  }
  m.dispose();
  run('python3', [path.join(HARNESSES, 'seeds.py'), dir, process.env.CIFAR10_DIR ?? '', ours]);
  fs.writeFileSync(done, made);
  return dir;
}

interface Row {
  target: string; minutes: number; execs: number; perSecond: number; corpus: number; coverage: string;
  crashes: number; ooms: number; timeouts: number; peakRssMb: number; findings: string[];
}

function fuzzOne(target: string, bin: string, seedDir: string, seconds: number): Promise<Row> {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is not built (run npm run fuzz without --no-build)`);
  const corpus = path.join(BUILD, 'corpus', target);
  const findings = path.join(BUILD, 'findings', target);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(findings, { recursive: true });
  const before = new Set(fs.readdirSync(findings));
  const args = [`-max_total_time=${seconds}`, `-rss_limit_mb=${RSS_LIMIT_MB}`, `-malloc_limit_mb=${MALLOC_LIMIT_MB}`,
    `-timeout=${TIMEOUT_S}`, `-max_len=${MAX_LEN}`, '-print_final_stats=1', `-artifact_prefix=${findings}/`,
    corpus, path.join(seedDir, target)];
  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:allocator_may_return_null=0:abort_on_error=0',
    LSAN_OPTIONS: `suppressions=${path.join(HARNESSES, 'lsan.supp')}:print_suppressions=0`,
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1', OMP_NUM_THREADS: '1' };
  const log = fs.createWriteStream(path.join(BUILD, `${target}.log`));
  return new Promise((resolve) => {
    const c = spawn(bin, args, { cwd: BUILD, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    c.stderr.on('data', (d: Buffer) => {
      log.write(d);
      tail = (tail + d.toString()).slice(-20000);
    });
    const t0 = Date.now();
    c.on('close', () => {
      log.end();
      const stat = (k: string) => Number(new RegExp(`stat::${k}:\\s+(\\d+)`).exec(tail)?.[1] ?? 0);
      const last = [...tail.matchAll(/#\d+\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
      const found = fs.readdirSync(findings).filter((f) => !before.has(f) && /^(crash|oom|timeout|leak)-/.test(f));
      const count = (p: string) => found.filter((f) => f.startsWith(p)).length;
      resolve({
        target, minutes: (Date.now() - t0) / 60000, execs: stat('number_of_executed_units'),
        perSecond: stat('average_exec_per_sec'), corpus: fs.readdirSync(corpus).length,
        coverage: last ? `${last[1]} edges, ${last[2]} features` : '?', crashes: count('crash') + count('leak'),
        ooms: count('oom'), timeouts: count('timeout'), peakRssMb: stat('peak_rss_mb'),
        findings: found.map((f) => path.join(findings, f)),
      });
    });
  });
}

/** A finding as a regression file of test/hostile/, which npm test replays (test/hostile-files.test.ts). */
function keep(target: string, file: string): string | undefined {
  const input = fs.readFileSync(file);
  const r = REPLAY[target](input);
  if (!r) return undefined;
  const kind = path.basename(file).split('-')[0];
  const name = `fuzz-${target}-${kind}-${crypto.createHash('sha1').update(input).digest('hex').slice(0, 10)}${r.ext}`;
  fs.writeFileSync(path.join(HOSTILE, name), r.data);
  return name;
}

async function main() {
  const bins = a['no-build'] ? Object.fromEntries(chosen.map((t) => [t, path.join(BUILD, t)])) : build();
  const seedDir = await seeds();
  const seconds = Math.max(1, Math.round(Number(a.minutes) * 60));
  const jobs = Math.max(1, Number(a.jobs));
  const rows: Row[] = [];
  const queue = [...chosen];
  await Promise.all(Array.from({ length: jobs }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      console.log(`fuzz: ${t} for ${(seconds / 60).toFixed(1)} min (log .fuzz/${t}.log)`);
      rows.push(await fuzzOne(t, bins[t], seedDir, seconds));
    }
  }));
  rows.sort((x, y) => chosen.indexOf(x.target) - chosen.indexOf(y.target));
  const kept: string[] = [];
  for (const r of rows) for (const f of r.findings) kept.push(keep(r.target, f) ?? path.relative(ROOT, f));
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  console.log(`\nnpm run fuzz -- --minutes ${a.minutes}${a.target ? ` --target ${a.target}` : ''} (${cpu}, ASan + UBSan, ` +
    `limits: ${MALLOC_LIMIT_MB} MB a malloc, ${RSS_LIMIT_MB} MB RSS, ${TIMEOUT_S} s an input, inputs up to ${MAX_LEN / 1024} KB)\n`);
  console.log('| target | minutes | executions | exec/s | corpus | coverage | crashes | OOMs | timeouts | peak RSS (MB) |');
  console.log('|---|---:|---:|---:|---:|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.target} | ${r.minutes.toFixed(1)} | ${r.execs} | ${r.perSecond} | ${r.corpus} | ${r.coverage} | ` +
      `${r.crashes} | ${r.ooms} | ${r.timeouts} | ${r.peakRssMb} |`);
  }
  if (kept.length) {
    console.log(`\n${kept.length} finding(s), kept for npm test's replay in test/hostile/: ${kept.join(', ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(2);
});
