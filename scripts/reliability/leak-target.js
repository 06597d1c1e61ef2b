// Run by scripts/reliability/leak.sh under valgrind: the public API end to end, small, over the compiled dist/ (no tsx under
// valgrind) — model, predict, a data set from a batch file and from a .tar.gz, a 3-iteration fit with a
// checkpoint, evaluate, save/load in both formats, readCheckpointMeta, the small hostile files of test/hostile/
// (each refused; the large ones take valgrind too long and are covered by test:stress's sanitizer area), the
// TorchScript and .pt2 error paths, dispose.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Cifar10, ResNet, Trainer, readCheckpointMeta, loadTorchScript, loadExported } = require('../../dist/index.js');

const ROOT = path.resolve(__dirname, '../..');

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-leak-'));
  const batches = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(batches);
  const bytes = Buffer.alloc(10000 * 3073);
  for (let i = 0; i < 10000; i++) bytes[i * 3073] = i % 10;
  fs.writeFileSync(path.join(batches, 'test_batch.bin'), bytes);
  execFileSync('tar', ['czf', path.join(dir, 'c.tar.gz'), '-C', dir, 'cifar-10-batches-bin']);
  await (await Cifar10.load(path.join(dir, 'c.tar.gz'), { split: 'test' })).labelCounts();
  for (let i = 1; i <= 5; i++) fs.copyFileSync(path.join(batches, 'test_batch.bin'), path.join(batches, `data_batch_${i}.bin`));
  const data = await Cifar10.load(dir, { split: 'train', holdout: 50000 - 64 }); // 64 images: valgrind is slow
  const model = new ResNet({ depth: 8, device: 'cpu', seed: 1 });
  await model.predict(new Float32Array(2 * 3072));
  await new Trainer(model, { iterations: 3, batchSize: 8, milestones: [2] })
    .fit(data, { eval: data, evalEvery: 2, reportEvery: 1, checkpoint: { dir: path.join(dir, 'run'), every: 2 } });
  await model.evaluate(data);
  await readCheckpointMeta(path.join(dir, 'run', 'checkpoint.pt'));
  for (const f of ['m.pt', 'm.safetensors']) {
    await model.save(path.join(dir, f), { meta: { note: 'leak', list: [1, [2]] } });
    const loaded = await ResNet.load(path.join(dir, f), { device: 'cpu' });
    await loaded.predict(new Float32Array(3072));
    loaded.dispose();
  }
  const hostile = path.join(ROOT, 'test/hostile');
  const small = (f) => !/\.(py|ts|gz)$/.test(f) || f.endsWith('.tar.gz');
  for (const f of fs.readdirSync(hostile).filter((x) => small(x) && fs.statSync(path.join(hostile, x)).size < 65536)) {
    const file = path.join(hostile, f);
    const open = f.includes('.tar') ? () => Cifar10.load(file, { split: 'train' }) : () => ResNet.load(file, { device: 'cpu' });
    await open().then((m) => { throw new Error(`${f} was opened`, { cause: m }); }, () => undefined);
  }
  await loadTorchScript(path.join(dir, 'm.pt')).catch(() => undefined);
  await loadExported(path.join(dir, 'm.pt')).catch(() => undefined);
  await ResNet.load(path.join(dir, 'missing.pt')).catch(() => undefined);
  try { new ResNet({ depth: 9 }); } catch { /* expected */ }
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('leak target done');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
