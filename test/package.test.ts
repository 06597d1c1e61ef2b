// The package as a user gets it: `npm pack`, installed into a fresh project outside the repository (libtorch from the
// environment, as the user's machine has it), then used from CommonJS, ESM and TypeScript, and through `npx`.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REAL_CIFAR, tmpDir, withRealCifar } from './helpers';
import { MINUTE, freshProject, npmInstall, pack, run, userEnv } from './helpers/packed';
import { pretrainedModels } from '../lib/index';

// What an installed package runs, and nothing else (no tests, no TypeScript source, no device or bench tooling).
const SHIPPED = [
  /^package\.json$/, /^README\.md$/, /^LICENSE$/, /^CMakeLists\.txt$/, /^binding\.gyp$/, /^bin\/resnet-cifar\.js$/,
  /^dist\/[\w/-]+\.(js|d\.ts)$/, /^native\/(core|napi)\/[\w/-]+\.(cc|h)$/, /^scripts\/build\/[\w-]+\.(js|json)$/,
  /^pretrained\/[\w-]+\.safetensors$/, /^proto\/[\w/-]+\.proto$/,
  // The vendored JPEG decompressor: its C sources and headers, its licences and our note on it.
  /^native\/third_party\/libjpeg-turbo\/src\/[\w/-]+\.(c|h)$/, /^native\/third_party\/libjpeg-turbo\/(LICENSE\.md|README\.ijg|VENDORED\.md)$/,
];
/** The pretrained networks the package must ship (each trained with the paper's full recipe). */
const NETWORKS = ['resnet20', 'resnet32', 'resnet56'];
const REQUIRED = ['native/third_party/libjpeg-turbo/LICENSE.md', 'native/third_party/libjpeg-turbo/README.ijg',
  'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js', 'bin/resnet-cifar.js', 'scripts/build/build.js',
  'scripts/build/libtorch.js', 'scripts/build/libtorch-download.js', 'dist/base/resumable-download.js', 'CMakeLists.txt',
  ...NETWORKS.map((name) => `pretrained/${name}.safetensors`), 'proto/tensorboard.proto'];

interface Installed { app: string; tarball: string; files: string[]; size: number; unpacked: number; log: string }
let installed: Promise<Installed> | undefined;

/** Packs the repository and installs the tarball into a fresh project, once for the file. */
function install(): Promise<Installed> {
  installed ??= (async () => {
    const dir = tmpDir('resnet-cifar-package-');
    const p = await pack(dir);
    const app = freshProject(path.join(dir, 'app'));
    // typescript and @types/node for the TypeScript consumer (versions as this repository uses; from npm's cache).
    const r = await npmInstall(app, [p.tarball, 'typescript@5', '@types/node@20'], userEnv());
    return { app, ...p, log: `${r.stdout}\n${r.stderr}` };
  })();
  return installed;
}

function node(app: string, args: string[]) {
  return run(process.execPath, args, { cwd: app, env: userEnv(), maxBuffer: 64 << 20, timeout: 10 * MINUTE });
}

test.serial('npm pack holds what an installed package runs, and npm install builds it in a fresh project', async (t) => {
  t.timeout(30 * MINUTE);
  const p = await install();
  t.log(`${path.basename(p.tarball)}: ${(p.size / 1e6).toFixed(2)} MB packed, ${(p.unpacked / 1e6).toFixed(2)} MB unpacked, ${p.files.length} files`);
  const stray = p.files.filter((f) => !SHIPPED.some((r) => r.test(f)));
  t.deepEqual(stray, [], 'files an installed package does not run');
  for (const f of REQUIRED) t.true(p.files.includes(f), `${f} is missing from the tarball`);
  const addon = path.join(p.app, 'node_modules/resnet-cifar/build/Release/resnet_cifar.node');
  t.true(fs.existsSync(addon), 'npm install did not build the addon');
  // The addon an installed package builds has no test hooks (they are compiled only in a checkout with its tests).
  const hooks = await node(p.app, ['-e', `console.log(typeof require(${JSON.stringify(addon)}).batchNormRelu)`]);
  t.is(hooks.stdout.trim(), 'undefined');
  // No warning of ours: npm's own allowScripts notice (the user's policy: `npm install-scripts approve resnet-cifar`)
  // is the only one expected.
  const warnings = p.log.split('\n').filter((l) => /warn(ing)?\b/i.test(l) && !/--no-warn-unused-cli/.test(l));
  t.log(`npm install's warnings:\n${warnings.join('\n') || '(none)'}`);
  t.deepEqual(warnings.filter((l) => !/^npm warn install-scripts/.test(l)), []);
});

test.serial('CommonJS: require("resnet-cifar") predicts', async (t) => {
  const { app } = await install();
  const code = `const { ResNet, IMAGE_SIZE } = require('resnet-cifar');
    new ResNet({ depth: 20 }).predict(new Float32Array(2 * IMAGE_SIZE))
      .then((l) => console.log(JSON.stringify({ n: l.length, finite: l.every(Number.isFinite), file: require.resolve('resnet-cifar') })));`;
  const out = JSON.parse((await node(app, ['-e', code])).stdout);
  t.is(out.n, 20);
  t.true(out.finite);
  t.is(out.file, path.join(fs.realpathSync(app), 'node_modules/resnet-cifar/dist/index.js'));
});

test.serial('ESM: named imports from "resnet-cifar"', async (t) => {
  const { app } = await install();
  fs.writeFileSync(path.join(app, 'esm.mjs'), `import { ResNet, Trainer, Cifar10, info, CIFAR10_CLASSES } from 'resnet-cifar';
const m = new ResNet({ depth: 20, shortcut: 'B' });
const logits = await m.predict(new Float32Array(3072));
console.log(JSON.stringify({ types: [typeof Trainer, typeof Cifar10, typeof info], classes: CIFAR10_CLASSES.length,
  depth: m.config.depth, shortcut: m.config.shortcut, n: logits.length }));
`);
  const out = JSON.parse((await node(app, ['esm.mjs'])).stdout);
  t.deepEqual(out, { types: ['function', 'function', 'function'], classes: 10, depth: 20, shortcut: 'B', n: 10 });
});

const CONSUMER = `import { ResNet, Cifar10, type ResNetOptions, type Evaluation, type Shortcut } from 'resnet-cifar';
const options: ResNetOptions = { depth: 20, shortcut: 'B' };
const shortcut: Shortcut = 'plain';
export const model = new ResNet({ ...options, shortcut });
export const logits: Promise<Float32Array> = model.predict(new Float32Array(3072));
export async function errorOf(data: Cifar10): Promise<number> {
  const e: Evaluation = await model.evaluate(data);
  return e.error;
}
// @ts-expect-error depth is a number (fails here if the package's types did not resolve and everything were any)
new ResNet({ depth: 'twenty' });
`;

for (const resolution of ['node16', 'bundler'] as const) {
  test.serial(`TypeScript: a consumer type-checks with moduleResolution ${resolution}`, async (t) => {
    const { app } = await install();
    const dir = path.join(app, `ts-${resolution}`);
    fs.mkdirSync(dir, { recursive: true });
    // node16: an ES module file (.mts) and a CommonJS one (.cts); bundler: a plain .ts.
    const files = resolution === 'node16' ? ['consumer.mts', 'consumer.cts'] : ['consumer.ts'];
    for (const f of files) fs.writeFileSync(path.join(dir, f), CONSUMER);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: resolution === 'node16' ? 'node16' : 'esnext', moduleResolution: resolution, target: 'ES2022',
        strict: true, noEmit: true, types: ['node'], skipLibCheck: false,
      },
      files,
    }));
    const tsc = path.join(app, 'node_modules/typescript/bin/tsc');
    const r = await node(app, [tsc, '-p', dir]).catch((e: { stdout?: string }) => ({ failed: e.stdout ?? String(e) }));
    t.deepEqual(r, { stdout: '', stderr: '' }, 'tsc reported errors');
  });
}

test.serial('npx resnet-cifar info runs the installed dist/ and its own addon', async (t) => {
  const { app } = await install();
  const { stdout } = await run('npx', ['--no-install', 'resnet-cifar', 'info'], { cwd: app, env: userEnv() });
  const real = fs.realpathSync(app);
  t.regex(stdout, /^addon\s+cmake-js build, (.*)$/m);
  t.true(stdout.includes(path.join(real, 'node_modules/resnet-cifar/build/Release/resnet_cifar.node')), stdout);
  for (const m of await pretrainedModels()) t.regex(stdout, new RegExp(`^pretrained .*\\b${m.name} \\(`, 'm'));
});

withRealCifar(test.serial)('npx resnet-cifar eval --pretrained NAME finds each shipped network and measures its test error', async (t) => {
  const data = REAL_CIFAR!;
  const { app } = await install();
  const shipped = await pretrainedModels();
  const names = shipped.map((m) => m.name);
  for (const name of NETWORKS) t.true(names.includes(name), `${name} not in ${names.join(', ')}`);
  for (const m of shipped) {
    const { stdout } = await run('npx', ['--no-install', 'resnet-cifar', 'eval', '--pretrained', m.name, '--data', data, '--json'],
      { cwd: app, env: userEnv(), maxBuffer: 64 << 20, timeout: 10 * MINUTE });
    const r = JSON.parse(stdout) as { model: string; error: number; count: number };
    t.is(r.count, 10000);
    t.true(Math.abs(r.error - m.testError) <= 0.02, `${m.name} installed: ${r.error} %, shipped: ${m.testError} %`);
    t.regex(r.model, new RegExp(`pretrained '${m.name}'`));
    t.log(`${m.name}: ${r.error} % from the installed package`);
  }
});

withRealCifar(test.serial)('npx resnet-cifar train: a short run writes its run folder', async (t) => {
  const data = REAL_CIFAR!;
  const { app } = await install();
  const out = path.join(app, 'runs/short');
  await run('npx', ['--no-install', 'resnet-cifar', 'train', '--depth', '20', '--iterations', '20', '--eval-every', '20',
    '--data', data, '--out', out, '--json'], { cwd: app, env: userEnv(), maxBuffer: 64 << 20, timeout: 10 * MINUTE });
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.pt', 'final.json']) t.true(fs.existsSync(path.join(out, f)), f);
  t.true(fs.readdirSync(out).some((f) => f.startsWith('events.out.tfevents.')), 'no TensorBoard events (proto/ not shipped?)');
  const final = JSON.parse(fs.readFileSync(path.join(out, 'final.json'), 'utf8')) as { iterations: number; testError: number };
  t.is(final.iterations, 20);
  t.true(final.testError > 0 && final.testError <= 100, `test error ${final.testError}`);
});

test.after.always(async () => {
  if (!installed) return;
  const p = await installed.catch(() => undefined);
  if (p) fs.rmSync(path.dirname(p.app), { recursive: true, force: true });
});
