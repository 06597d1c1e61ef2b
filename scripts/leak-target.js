// Run by scripts/leak.sh under valgrind: the native surface end to end, small — model, predict, dataset from
// memory, a 3-iteration fit with a checkpoint, evaluate, save/load, TorchScript error path, dispose.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const addon = require(process.env.RESNET_CIFAR_ADDON || path.join(__dirname, '../build/Release/resnet_cifar.node'));

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-leak-'));
  const bytes = Buffer.alloc(10000 * 3073);
  for (let i = 0; i < 10000; i++) bytes[i * 3073] = i % 10;
  const data = await addon.Dataset.loadBatches([{ name: 'memory', data: bytes }]);
  const small = data.slice(0, 64);
  const model = new addon.Model({ depth: 8, shortcut: 'A', numClasses: 10, device: 'cpu', seed: 1 });
  await model.predict(new Float32Array(2 * 3072), 2);
  const normalization = { kind: 'channel', mean: new Float32Array([0.5, 0.5, 0.5]), std: new Float32Array([0.25, 0.25, 0.25]) };
  const h = addon.fit(model, small, small, {
    iterations: 3, batchSize: 8, lr: 0.1, momentum: 0.9, weightDecay: 1e-4, milestones: [2], gamma: 0.1,
    warmupLr: 0, warmupIterations: 0, warmupUntilError: -1, seed: 0, reportEvery: 1, evalEvery: 2, evalBatchSize: 32,
    checkpointPath: path.join(dir, 'checkpoint.pt'), checkpointEvery: 2, resume: false, channelsLast: true, stepOnly: false,
    normalization,
  }, () => {});
  await h.promise;
  await model.evaluate(small, 32, normalization);
  await model.evaluate(small, 32, null);
  await small.statistics('pixel');
  await addon.readCheckpoint(path.join(dir, 'checkpoint.pt'), false);
  await addon.readCheckpoint(path.join(dir, 'checkpoint.pt'), true);
  await model.save(path.join(dir, 'm.pt'));
  const loaded = await addon.Model.load(path.join(dir, 'm.pt'), 'cpu');
  await loaded.predict(new Float32Array(3072), 1);
  await addon.ForeignModule.loadTorchScript(path.join(dir, 'm.pt'), 'cpu').catch(() => undefined);
  await addon.ForeignModule.loadExported(path.join(dir, 'm.pt'), 'cpu').catch(() => undefined);
  await addon.Model.load(path.join(dir, 'missing.pt'), 'cpu').catch(() => undefined);
  try { new addon.Model({ depth: 9 }); } catch { /* expected */ }
  loaded.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('leak target done');
})();
