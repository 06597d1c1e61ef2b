import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CIFAR10_CLASSES, Cifar10, FASHION_MNIST_CLASSES, ImageDataset, ResNet, info, pretrainedModels } from '../lib/index';
import { COMMANDS } from '../lib/cli';
import { HELP } from '../lib/cli/help';
import { machineName } from '../lib/base/info';
import { runTime } from '../lib/run';
import { readCheckpointTensors } from '../lib/io/checkpoint';
import { anyCifarDir, FASHION_MNIST, type Finished, launch, REAL_CIFAR, ROOT, tmpDir, withFashionMnist, withRealCifar } from './helpers';

const BIN = path.join(ROOT, 'bin/resnet-cifar.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}, onStart?: (kill: (s: NodeJS.Signals) => void, out: () => string) => void): Promise<Finished> {
  const { child, done } = launch(process.execPath, [BIN, ...args], { ...process.env, ...env });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  onStart?.((s) => child.kill(s), () => stdout);
  return done;
}

/** Record n of a CIFAR-10 batch file: its label and its pixels as a sharp image (CHW planes to interleaved RGB). */
function testImage(batch: Buffer, n: number) {
  const rec = batch.subarray(n * 3073, (n + 1) * 3073);
  const hwc = Buffer.alloc(3072);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = rec[1 + c * 1024 + p];
  return { label: rec[0], image: require('sharp')(hwc, { raw: { width: 32, height: 32, channels: 3 } }) };
}

const noStack = (t: { false: (v: boolean, m?: string) => void }, r: Finished) => t.false(/\n\s+at /.test(r.stderr), r.stderr);

test('--help on every command; --version', async (t) => {
  const main = await cli(['--help']);
  t.is(main.code, 0);
  const commands = Object.keys(COMMANDS);
  t.true(commands.length >= 6, commands.join(', '));
  for (const cmd of commands) {
    t.regex(main.stdout, new RegExp(`^  ${cmd} `, 'm'), `the command list names ${cmd}`);
    const r = await cli([cmd, '--help']);
    t.is(r.code, 0, cmd);
    t.regex(r.stdout, new RegExp(`Usage: resnet-cifar ${cmd}`));
  }
  t.deepEqual(Object.keys(HELP).filter((k) => k !== 'main').sort(), [...commands].sort(), 'help.ts has a section per command');
  const v = await cli(['--version']);
  t.is(v.stdout.trim(), require('../package.json').version);
});

test('user errors: one clear line, a non-zero exit, no stack trace', async (t) => {
  const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
    [['frobnicate'], /unknown command 'frobnicate' \(expected one of: info, train, eval, predict, convert, reproduce\)/],
    [['train', '--bogus'], /train: unknown option '--bogus'/],
    [['train', '--depth', '21'], /--depth must be of the form 6n\+2 \(20, 32, 44, …\) up to \d+, got 21/],
    [['train', '--depth', 'x'], /--depth expects an integer, got 'x'/],
    [['train', '--shortcut', 'C'], /--shortcut must be one of 'A', 'B', 'plain', got 'C'/],
    // The library's own rules (resolveTrainerOptions), said for the flag that set the option, before any work.
    [['train', '--lr=-0.1'], /--lr must be a positive finite number, got -0\.1/],
    [['train', '--warmup-lr', '0', '--warmup-iterations', '400'], /--warmup-lr must be a positive finite number, got 0/],
    [['train', '--warmup-lr', '0.01'], /--warmup-lr needs --warmup-iterations or --warmup-until-error/],
    [['train', '--warmup-lr', '0.01', '--warmup-until-error', '150'], /--warmup-until-error must be in \(0, 100\], got 150/],
    [['train', '--iterations', '0'], /--iterations must be between 1 and 1000000000, got 0/],
    [['train', '--milestones', '300,200'], /--milestones must be in increasing order, got \[300, 200\]/],
    [['train', '--batch-size', '0'], /--batch-size must be between 1 and 50000, got 0/],
    [['train', '--normalization', 'zca'], /--normalization must be one of 'pixel', 'channel', got 'zca'/],
    [['train', '--precision', 'fp16'], /--precision must be one of 'fp32', 'tf32', 'bf16', got 'fp16'/],
    [['eval', '--pretrained', 'resnet21'], /--pretrained must be one of 'resnet20'.*, got 'resnet21'/],
    [['train', '--milestones', '1,,2'], /--milestones expects a list of comma-separated numbers/],
    [['train', '--device', 'tpu'], /--device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'/],
    [['train', '--data', '/no/such/dir'], /--data \/no\/such\/dir does not exist/],
    [['train', '--iterations', '5'], /No CIFAR-10 data: pass the cifar-10-batches-bin folder/, { CIFAR10_DIR: '', RESNET_CIFAR_CACHE: tmpDir() }],
    [['eval'], /eval needs exactly one of --pretrained NAME, --weights FILE, --torchscript FILE or --exported FILE/],
    [['eval', '--checkpoint', '/no/file.pt'], /\/no\/file\.pt does not exist/],
    [['predict', '--checkpoint', 'x.pt'], /predict needs at least one image file/],
    [['reproduce', '--depths', '20'], /reproduce needs --out DIR/],
    [['reproduce', '--out', tmpDir(), '--workers', '0'], /--workers must be at least 1, got 0/],
    [['train', '--sync-bn'], /--sync-bn synchronizes BatchNorm between data-parallel workers: it needs --nproc-per-node/],
    [['eval', '--torchscript', BIN, '--mean', '1,2'], /--mean expects 3 comma-separated numbers, got '1,2'/],
  ];
  for (const [args, re, env] of cases) {
    const r = await cli(args, env);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re);
    t.regex(r.stderr, /^resnet-cifar: /);
    noStack(t, r);
  }
  // Not a usage error but still a clean message: a file that is no checkpoint.
  const r = await cli(['eval', '--checkpoint', BIN, '--data', anyCifarDir(t)]);
  t.is(r.code, 1);
  t.regex(r.stderr, /resnet-cifar: .*resnet-cifar\.js/);
  noStack(t, r);
});

test('info --json reports the libtorch in use', async (t) => {
  const r = await cli(['info', '--json']);
  t.is(r.code, 0);
  const j = JSON.parse(r.stdout);
  t.is(j.libtorch.version, info().libtorch.version);
  t.is(typeof j.cuda.available, 'boolean');
  t.true('cache' in j.data);
  const plain = await cli(['info']);
  t.regex(plain.stdout, /^libtorch\s+\d+\.\d+/m);
  t.regex(plain.stdout, /^cpu bf16 {3}\S/m);
  // oneDNN's own instruction-set cap decides the bf16 path: AVX2 there is an AVX2-only CPU's emulated bf16 on any CPU.
  const env = { ONEDNN_MAX_CPU_ISA: undefined, DNNL_MAX_CPU_ISA: undefined };
  const uncapped = JSON.parse((await cli(['info', '--json'], env)).stdout).cpu;
  t.is(uncapped.isaCap, null);
  if (!info().cpu.isaCap) t.is(uncapped.bf16, info().cpu.bf16);
  const capped = await cli(['info', '--json'], { ...env, ONEDNN_MAX_CPU_ISA: 'AVX2' });
  t.like(JSON.parse(capped.stdout).cpu, { amxBf16: false, avx512Bf16: false, bf16: 'emulated', isaCap: 'AVX2' });
  t.regex((await cli(['info'], { ...env, ONEDNN_MAX_CPU_ISA: 'avx2' })).stdout, /^cpu bf16 .*slower than fp32 \(oneDNN capped at ONEDNN_MAX_CPU_ISA=avx2\)$/m);
});

test('train writes config, metrics, checkpoint, curves and final result; eval of the checkpoint agrees', async (t) => {
  const data = anyCifarDir(t);
  const out = path.join(tmpDir(), 'run');
  const r = await cli(['train', '--depth', '8', '--iterations', '30', '--batch-size', '16', '--eval-every', '15',
    '--checkpoint-every', '10', '--data', data, '--out', out]);
  t.is(r.code, 0, r.stderr);
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.pt', 'curves.svg', 'final.json']) t.true(fs.existsSync(path.join(out, f)), f);
  t.regex(r.stdout, /it 30\/30 .*img\/s/);
  const final = JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8'));
  t.is(final.iterations, 30);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  t.like(cfg, { depth: 8, shortcut: 'A', iterations: 30, batchSize: 16, milestones: [15, 23] });
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(metrics.filter((m) => m.kind === 'train').map((m) => m.iteration), [10, 20, 30]);
  t.deepEqual(metrics.filter((m) => m.kind === 'eval').map((m) => m.iteration), [15, 30]);
  const svg = fs.readFileSync(path.join(out, 'curves.svg'), 'utf8');
  t.regex(svg, /^<svg/);
  t.regex(svg, /training error/);
  t.regex(svg, /test error/);
  t.true((svg.match(/<path[^>]*stroke-width="0\.8"/g) ?? []).length >= 1, 'a thin training-error line');
  t.true((svg.match(/<path[^>]*stroke-width="2\.4"/g) ?? []).length >= 1, 'a bold test-error line');
  const ev = await cli(['eval', '--checkpoint', path.join(out, 'checkpoint.pt'), '--data', data, '--json']);
  t.is(ev.code, 0, ev.stderr);
  t.is(JSON.parse(ev.stdout).error, final.testError);
  const table = await cli(['eval', '--checkpoint', path.join(out, 'checkpoint.pt'), '--data', data]);
  t.regex(table.stdout, /test error \d+\.\d\d %[\s\S]*class\s+images\s+error %[\s\S]*confusion/);
  // The run folder is not overwritten by accident, and --resume refuses other settings.
  const again = await cli(['train', '--depth', '8', '--iterations', '30', '--data', data, '--out', out]);
  t.is(again.code, 2);
  t.regex(again.stderr, /already holds a run .*--resume/);
  const other = await cli(['train', '--depth', '8', '--iterations', '40', '--batch-size', '16', '--seed', '3', '--data', data, '--out', out, '--resume']);
  t.is(other.code, 2);
  t.regex(other.stderr, /Cannot resume .*: it was started with seed 0, not 3/);
});

test('train --json prints one JSON object per line', async (t) => {
  const out = path.join(tmpDir(), 'run');
  const r = await cli(['train', '--depth', '8', '--iterations', '100', '--batch-size', '8', '--eval-every', '100', '--data', anyCifarDir(t), '--out', out, '--json']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => l.kind), ['train', 'train', 'eval', 'checkpoint', 'final']);
  t.is(lines[4].iterations, 100);
});

test('Ctrl-C stops train with a checkpoint (exit 130); --resume finishes the run', async (t) => {
  const data = anyCifarDir(t);
  const out = path.join(tmpDir(), 'run');
  const args = ['train', '--depth', '8', '--iterations', '3000', '--batch-size', '8', '--eval-every', '3000', '--data', data, '--out', out];
  const r = await cli(args, {}, (kill, stdout) => {
    const timer = setInterval(() => {
      if (/it \d+\/3000/.test(stdout())) {
        clearInterval(timer);
        kill('SIGINT');
      }
    }, 50);
  });
  t.is(r.code, 130, r.stderr);
  t.regex(r.stdout, /stopped at iteration (\d+); checkpoint .*--resume/);
  t.false(fs.existsSync(path.join(out, 'final.json')));
  const stoppedAt = Number(/stopped at iteration (\d+)/.exec(r.stdout)![1]);
  const resumed = await cli(['train', '--depth', '8', '--iterations', String(stoppedAt + 40), '--batch-size', '8',
    '--eval-every', '3000', '--data', data, '--out', out, '--resume']);
  t.is(resumed.code, 0, resumed.stderr);
  const final = JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8'));
  t.is(final.iterations, stoppedAt + 40);
  // metrics.jsonl records both starts (from 0 and from the checkpoint), and runTime adds them up.
  const starts = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.kind === 'start');
  t.deepEqual(starts.map((s) => s.iteration), [0, stoppedAt]);
  t.deepEqual(starts.map((s) => s.machine), [machineName(), machineName()]);
  t.like(starts[1], { device: 'cpu', libtorch: info().libtorch.version, precision: 'fp32' });
  const time = runTime(out, 8);
  t.is(time.starts, 2);
  t.deepEqual(time.machines, [machineName()]);
  t.true(time.seconds > 0, JSON.stringify(time));
  // final.json's training time is the whole run's too (the history of both starts): the same windows, the same sum.
  t.true(Math.abs(time.trainingSeconds - final.trainingSeconds) <= 1e-9 * final.trainingSeconds, JSON.stringify({ time, final }));
});

test('predict classifies PNG and JPEG files', async (t) => {
  const data = anyCifarDir(t);
  const dir = tmpDir();
  const ckpt = path.join(dir, 'r8.pt');
  await new ResNet({ depth: 8, device: 'cpu', seed: 1 }).save(ckpt);
  const { image } = testImage(fs.readFileSync(path.join(data, 'test_batch.bin')), 0);
  await image.clone().png().toFile(path.join(dir, 'a.png'));
  await image.clone().resize(96, 80).jpeg().toFile(path.join(dir, 'b.jpg'));
  const r = await cli(['predict', '--checkpoint', ckpt, path.join(dir, 'a.png'), path.join(dir, 'b.jpg'), '--top', '3', '--json']);
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.is(res.length, 2);
  for (const x of res) {
    t.is(x.predictions.length, 3);
    t.true(x.predictions[0].probability >= x.predictions[1].probability && x.predictions[0].probability <= 1);
  }
  fs.writeFileSync(path.join(dir, 'c.png'), 'not an image');
  const bad = await cli(['predict', '--checkpoint', ckpt, path.join(dir, 'c.png')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /Cannot decode .*c\.png as an image/);
  noStack(t, bad);
});

test('info lists the shipped networks; an unknown --pretrained name is a usage error', async (t) => {
  const shipped = await pretrainedModels();
  const i = await cli(['info', '--json']);
  t.is(i.code, 0, i.stderr);
  t.deepEqual(JSON.parse(i.stdout).pretrained, shipped.map((m) => ({ name: m.name, depth: m.config.depth, shortcut: m.config.shortcut, testError: m.testError })));
  const bad = await cli(['eval', '--pretrained', 'resnet21']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--pretrained must be one of 'resnet20'.*, got 'resnet21'/);
  noStack(t, bad);
});

withRealCifar()('eval --pretrained resnet20 gives its shipped test error on real CIFAR-10; predict classifies test images from PNG files', async (t) => {
  const shipped = await pretrainedModels();
  const data = REAL_CIFAR!;
  const r20 = shipped.find((m) => m.name === 'resnet20')!;
  const e = await cli(['eval', '--pretrained', 'resnet20', '--data', data, '--json']);
  t.is(e.code, 0, e.stderr);
  t.true(Math.abs(JSON.parse(e.stdout).error - r20.testError) <= 0.02, e.stdout.slice(0, 200));
  // The first 20 test images as PNG files, classified from the files.
  const dir = tmpDir();
  const raw = fs.readFileSync(path.join(data, 'test_batch.bin'));
  const files: string[] = [];
  const labels: string[] = [];
  for (let n = 0; n < 20; n++) {
    const { label, image } = testImage(raw, n);
    files.push(path.join(dir, `${n}.png`));
    labels.push(CIFAR10_CLASSES[label]);
    await image.png().toFile(files[n]);
  }
  const p = await cli(['predict', '--pretrained', 'resnet20', ...files, '--json']);
  t.is(p.code, 0, p.stderr);
  const predicted = (JSON.parse(p.stdout) as { predictions: { class: string }[] }[]).map((x) => x.predictions[0].class);
  const right = predicted.filter((c, n) => c === labels[n]).length;
  t.log(`predict --pretrained resnet20: ${right} of 20 test images right`);
  t.true(right >= 16, `${right} of 20: ${predicted.join(' ')} vs ${labels.join(' ')}`);
});

test('reproduce: every run in its own folder, table.md and figure6.svg; a second call trains nothing; a killed call resumes', async (t) => {
  const data = anyCifarDir(t);
  const out = tmpDir();
  const args = ['reproduce', '--depths', '8', '--seeds', '1', '--plain', '--iterations', '20', '--batch-size', '16', '--eval-every', '10', '--data', data, '--out', out, '--json'];
  const r = await cli(args);
  t.is(r.code, 0, r.stderr);
  const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.like(done, { kind: 'done', trained: 2, skipped: 0 });
  const table = fs.readFileSync(path.join(out, 'table.md'), 'utf8');
  t.regex(table, /\| plain-8 \| 8 \| 1\/1 \| \d+\.\d\d ± 0\.00 \|/);
  t.regex(table, /\| ResNet-8 \| 8 \| 1\/1 \|/);
  const svg = fs.readFileSync(path.join(out, 'figure6.svg'), 'utf8');
  t.regex(svg, />plain</);
  t.regex(svg, />ResNet</);
  t.true(fs.existsSync(path.join(out, 'figure6.png')));
  const again = await cli(args);
  t.like(JSON.parse(again.stdout.trim().split('\n').pop()!), { kind: 'done', trained: 0, skipped: 2 });

  // Killed (SIGKILL) mid-run after a checkpoint: the next call resumes that run instead of restarting it.
  const out2 = tmpDir();
  const runDir = path.join(out2, 'runs', 'resnet8-seed0');
  const long = ['reproduce', '--depths', '8', '--seeds', '1', '--iterations', '400', '--batch-size', '8', '--eval-every', '400',
    '--checkpoint-every', '20', '--data', data, '--out', out2];
  const killed = await cli(long, {}, (kill) => {
    const timer = setInterval(() => {
      if (fs.existsSync(path.join(runDir, 'checkpoint.pt'))) {
        clearInterval(timer);
        kill('SIGKILL');
      }
    }, 20);
  });
  t.is(killed.signal, 'SIGKILL');
  const second = await cli(long);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /ResNet-8 seed 0: resuming/);
  const metrics = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const its = metrics.filter((m) => m.kind === 'train').map((m) => m.iteration);
  t.deepEqual(its, [...its].sort((a, b) => a - b));
  t.is(new Set(its).size, its.length, 'no iteration logged twice');
  t.is(its[its.length - 1], 400);
  const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  t.true(cfg.resumedFrom > 0);
});

test('reproduce --workers: runs train side by side in worker processes; a failed run is named, the others finish', async (t) => {
  const data = anyCifarDir(t);
  const out = tmpDir();
  const args = (dir: string) => ['reproduce', '--depths', '8', '--seeds', '2', '--iterations', '20', '--batch-size', '16', '--eval-every', '10',
    '--data', data, '--out', dir, '--workers', '2', '--json'];
  const r = await cli([...args(out), '--no-cuda-graphs']);
  t.is(r.code, 0, r.stderr);
  for (const seed of [0, 1]) {
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'runs', `resnet8-seed${seed}`, 'config.json'), 'utf8'));
    t.is(cfg.cudaGraphs, false, '--no-cuda-graphs reaches every worker');
  }
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const firstFinal = events.findIndex((e) => e.kind === 'final');
  t.deepEqual(events.slice(0, firstFinal).filter((e) => e.kind === 'start').map((e) => e.run).sort(), ['resnet8-seed0', 'resnet8-seed1'],
    'both runs started before either finished');
  t.true(events.some((e) => e.run === 'resnet8-seed1' && e.kind === 'eval'), 'progress comes back with the run named');
  t.like(events.at(-1), { kind: 'done', trained: 2, skipped: 0 });
  t.regex(fs.readFileSync(path.join(out, 'table.md'), 'utf8'), /\| ResNet-8 \| 8 \| 2\/2 \| \d+\.\d\d ± \d+\.\d\d \|/);

  // A run that cannot start (a damaged checkpoint in its folder): named in the error; the other run still finishes.
  const out2 = tmpDir();
  const broken = path.join(out2, 'runs', 'resnet8-seed1');
  fs.mkdirSync(broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'checkpoint.pt'), 'garbage');
  const bad = await cli(args(out2));
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /1 run\(s\) failed.*resnet8-seed1 \(exit 1\): .*checkpoint\.pt is not a file written by torch\.save/);
  noStack(t, bad);
  t.truthy(fs.existsSync(path.join(out2, 'runs', 'resnet8-seed0', 'final.json')));
  fs.rmSync(broken, { recursive: true });
  const again = await cli(args(out2));
  t.is(again.code, 0, again.stderr);
  t.like(JSON.parse(again.stdout.trim().split('\n').pop()!), { kind: 'done', trained: 1, skipped: 1 });
});

test('convert moves weights between formats; eval --weights opens each, --normalize says how to normalize', async (t) => {
  const dir = tmpDir();
  const data = anyCifarDir(t);
  const f = (n: string) => path.join(dir, n);
  await new ResNet({ depth: 8, seed: 1, device: 'cpu' }).save(f('m.pt'));
  for (const [out, to] of [['m.safetensors'], ['aka.th', 'akamaster'], ['seed.pt', 'state-dict']] as const) {
    const r = await cli(['convert', f('m.pt'), f(out), ...(to ? ['--to', to] : [])]);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`-> .*${out} \\((safetensors|akamaster|state-dict)\\): ResNet-8 \\(A, 10 classes\\)`));
  }
  const errors: number[] = [];
  for (const file of ['m.pt', 'm.safetensors', 'aka.th', 'seed.pt']) {
    const r = await cli(['eval', '--weights', f(file), '--normalize', '0.5,0.5,0.5/0.25,0.25,0.25', '--data', data, '--json']);
    t.is(r.code, 0, r.stderr);
    errors.push(JSON.parse(r.stdout).error);
  }
  t.log(`test error of the same weights from four formats: ${errors.join(', ')} %`);
  t.true(errors.every((e) => e === errors[0]), errors.join(', '));
  const bad = await cli(['convert', f('m.pt'), f('x.bin'), '--to', 'tflite']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--to: Expected format to be one of 'checkpoint', 'safetensors', 'state-dict', 'akamaster', 'onnx' but received 'tflite'/);
  t.false(fs.existsSync(f('x.bin')));
  const norm = await cli(['eval', '--weights', f('m.pt'), '--normalize', 'mnist', '--data', data]);
  t.regex(norm.stderr, /--normalize expects cifar, imagenet or MEAN\/STD/);
});

withFashionMnist()('an MNIST-format folder: info --data describes it; train gets its channels, classes and names; eval and predict print them', async (t) => {
  const data = FASHION_MNIST!;
  const described = await cli(['info', '--data', data, '--json']);
  t.is(described.code, 0, described.stderr);
  const d = JSON.parse(described.stdout);
  t.is(d.kind, 'mnist');
  t.deepEqual(d.splits.map((s: { images: number }) => s.images), [60_000, 10_000]);
  t.deepEqual(d.splits[0].shape, { channels: 1, height: 28, width: 28 });
  t.deepEqual(d.splits[1].classes, [...FASHION_MNIST_CLASSES]);
  const dir = path.join(tmpDir(), 'fashion');
  const r = await cli(['train', '--depth', '8', '--data', data, '--iterations', '40', '--batch-size', '64', '--out', dir]);
  t.is(r.code, 0, r.stderr);
  const final = JSON.parse(fs.readFileSync(path.join(dir, 'final.json'), 'utf8'));
  t.deepEqual(final.perClass.map((c: { name: string }) => c.name), [...FASHION_MNIST_CLASSES]);
  t.true(final.testError < 80, `test error ${final.testError} after 40 iterations (chance: 90)`);
  const ev = await cli(['eval', '--weights', path.join(dir, 'checkpoint.pt'), '--data', data, '--json']);
  t.is(ev.code, 0, ev.stderr);
  t.is(JSON.parse(ev.stdout).error, final.testError);
  // A test image written as a grey PNG: predict decodes it at the network's 1×28×28 and names Fashion-MNIST's classes.
  const { pixels } = (await ImageDataset.loadMnist(data, { split: 'test' })).images(0, 1);
  const png = path.join(tmpDir(), 'boot.png');
  await require('sharp')(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(png);
  const p = await cli(['predict', '--weights', path.join(dir, 'checkpoint.pt'), png, '--top', '3', '--json']);
  t.is(p.code, 0, p.stderr);
  const [{ predictions }] = JSON.parse(p.stdout);
  t.is(predictions.length, 3);
  t.true(predictions.every((q: { class: string }) => FASHION_MNIST_CLASSES.includes(q.class)));
});

/**
 * A folder of class folders made once per run of this file: the aeroplanes, cars and ships among the first 300
 * CIFAR-10 test images, as PNG files.
 */
let photos: Promise<{ root: string; names: string[]; written: number }> | undefined;
function photoFolder(t: ExecutionContext): Promise<{ root: string; names: string[]; written: number }> {
  const dir = anyCifarDir(t);
  photos ??= (async () => {
    const data = await Cifar10.load(dir, { split: 'test' });
    const { pixels, labels } = data.images(0, 300);
    const root = path.join(tmpDir(), 'photos');
    const names = ['aeroplanes', 'cars', 'ships'];
    const keep = [0, 1, 8];
    const sharp = require('sharp');
    let written = 0;
    for (let i = 0; i < 300; i++) {
      const k = keep.indexOf(labels[i]);
      if (k < 0) continue;
      fs.mkdirSync(path.join(root, names[k]), { recursive: true });
      const hwc = Buffer.alloc(3072);
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = pixels[i * 3072 + c * 1024 + p];
      await sharp(hwc, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(root, names[k], `${i}.png`));
      written++;
    }
    return { root, names, written };
  })();
  return photos;
}

test('a folder of class folders: train --data --size --grayscale, info --data and eval read it the same way', async (t) => {
  const { root, names, written } = await photoFolder(t);
  const described = await cli(['info', '--data', root, '--json']);
  t.is(described.code, 0, described.stderr);
  const d = JSON.parse(described.stdout);
  t.is(d.kind, 'folder');
  t.deepEqual(d.splits[0].classes, names);
  t.is(d.splits[0].images + d.splits[1].images, written);
  const dir = path.join(tmpDir(), 'run');
  const r = await cli(['train', '--depth', '8', '--data', root, '--size', '16', '--grayscale', '--iterations', '6', '--batch-size', '16', '--out', dir]);
  t.is(r.code, 0, r.stderr);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  t.like(config, { imageSize: 16, grayscale: true });
  const final = JSON.parse(fs.readFileSync(path.join(dir, 'final.json'), 'utf8'));
  t.deepEqual(final.perClass.map((c: { name: string }) => c.name), names);
  const ckpt = await ResNet.load(path.join(dir, 'checkpoint.pt'), { device: 'cpu' });
  t.is(ckpt.config.inChannels, 1);
  t.deepEqual(ckpt.classNames, names);
  ckpt.dispose();
  const ev = await cli(['eval', '--weights', path.join(dir, 'checkpoint.pt'), '--data', root, '--json']);
  t.is(ev.code, 0, ev.stderr);
  t.is(JSON.parse(ev.stdout).error, final.testError);
});

test('train --from a shipped network with --freeze backbone and --epochs: a new head for the folder\'s classes, the backbone kept', async (t) => {
  const { root, names } = await photoFolder(t);
  const dir = path.join(tmpDir(), 'fine');
  const r = await cli(['train', '--from', 'resnet20', '--freeze', 'backbone', '--epochs', '2', '--batch-size', '32', '--lr', '0.05', '--data', root, '--out', dir]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ResNet-20 from resnet20 \(frozen: backbone\): 2 epochs/);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  t.like(config, { depth: 20, from: 'resnet20', freeze: 'backbone', epochs: 2, normalization: 'network', milestones: [1, 1.5] });
  t.is(config.iterations, undefined);
  const final = JSON.parse(fs.readFileSync(path.join(dir, 'final.json'), 'utf8'));
  const trainImages = (await ImageDataset.fromFolder(root, { validation: { fraction: 0.1, seed: 0 } })).train.length;
  t.is(final.iterations, 2 * Math.ceil(trainImages / 32));
  const tuned = await ResNet.load(path.join(dir, 'checkpoint.pt'), { device: 'cpu' });
  const shipped = await ResNet.pretrained('resnet20', { device: 'cpu' });
  t.is(tuned.config.numClasses, 3);
  t.deepEqual(tuned.classNames, names);
  // The shipped network's record (its CIFAR-10 test error) does not travel to the network trained from it.
  t.not(shipped.meta.pretrained, undefined);
  t.false('pretrained' in tuned.meta);
  // The backbone is the shipped network's, bit for bit (weights and BatchNorm statistics); its statistics too.
  t.deepEqual(tuned.normalization, shipped.normalization);
  const shippedFile = path.join(tmpDir(), 'shipped.pt');
  await shipped.save(shippedFile);
  const before = (await readCheckpointTensors(shippedFile)).stateDict;
  const after = (await readCheckpointTensors(path.join(dir, 'checkpoint.pt'))).stateDict;
  for (const k of Object.keys(before).filter((n) => !n.startsWith('fc.'))) t.deepEqual(Array.from(after[k]), Array.from(before[k]), k);
  t.is(after['fc.weight'].length, 3 * 64);
  tuned.dispose();
  const bad = await cli(['train', '--freeze', 'backbone', '--iterations', '5', '--data', root, '--out', path.join(tmpDir(), 'x')]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--freeze needs --from/);
  const both = await cli(['train', '--from', 'resnet20', '--epochs', '1', '--iterations', '5', '--data', root, '--out', path.join(tmpDir(), 'y')]);
  t.regex(both.stderr, /give --iterations or --epochs, not both/);
  const depth = await cli(['train', '--from', 'resnet20', '--depth', '32', '--data', root, '--out', path.join(tmpDir(), 'w')]);
  t.regex(depth.stderr, /--from resnet20 is ResNet-20: leave out --depth/);
  const parallel = await cli(['train', '--from', 'resnet20', '--freeze', 'backbone', '--nproc-per-node', '2', '--data', root, '--out', path.join(tmpDir(), 'v')]);
  t.regex(parallel.stderr, /--freeze trains one process/);
  const resumed = await cli(['train', '--from', 'resnet20', '--epochs', '2', '--batch-size', '32', '--lr', '0.05', '--data', root, '--out', dir, '--resume']);
  t.regex(resumed.stderr, /Cannot resume .*: it was started with freeze "backbone", not none/);
  // From a file that is gone by the time the run is resumed (and lengthened): the run's checkpoint is the network.
  const fromFile = path.join(tmpDir(), 'start.safetensors');
  await shipped.save(fromFile);
  const gone = path.join(tmpDir(), 'gone');
  const first = await cli(['train', '--from', fromFile, '--epochs', '1', '--batch-size', '32', '--data', root, '--out', gone]);
  t.is(first.code, 0, first.stderr);
  fs.rmSync(fromFile);
  const longer = await cli(['train', '--from', fromFile, '--epochs', '2', '--batch-size', '32', '--data', root, '--out', gone, '--resume']);
  t.is(longer.code, 0, longer.stderr);
  t.is(JSON.parse(fs.readFileSync(path.join(gone, 'final.json'), 'utf8')).iterations, 2 * Math.ceil(trainImages / 32));
  const unknown = await cli(['train', '--from', 'resnet21', '--data', root, '--out', path.join(tmpDir(), 'z')]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /--from resnet21: /);
  shipped.dispose();
});
