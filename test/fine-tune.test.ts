// Fine-tuning: a new head for other classes, frozen stages (no gradient, no weight decay, BatchNorm statistics
// fixed), per-stage learning rates, a colour network meeting grey images, and the fineTune recipe on the real
// Fashion-MNIST from the shipped ResNet-20.
import test from 'ava';
import * as path from 'node:path';
import { Cifar10, FASHION_MNIST_CLASSES, ImageDataset, ResNet, Trainer, fineTune } from '../lib/index';
import { readCheckpointTensors } from '../lib/io/checkpoint';
import { anyCifarDir, FASHION_MNIST, tmpDir, withFashionMnist } from './helpers';

/** Every tensor of the model's state dict (parameters and BatchNorm buffers), by name. */
async function tensors(m: ResNet): Promise<Record<string, Float32Array>> {
  const file = path.join(tmpDir(), 'm.pt');
  await m.save(file);
  return (await readCheckpointTensors(file)).stateDict;
}

const stageOf = (name: string) => (/^(conv|bn)\./.test(name) ? 'stem' : name.split('.')[0]);
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => x === b[i]);

test('resetClassifier: a seeded new head for other classes, every other weight kept, the old class names dropped', async (t) => {
  const m = await ResNet.pretrained('resnet20', { device: 'cpu' });
  const before = await tensors(m);
  m.resetClassifier(5, { seed: 1 });
  t.is(m.config.numClasses, 5);
  t.deepEqual(m.classNames, ['class 0', 'class 1', 'class 2', 'class 3', 'class 4']);
  const after = await tensors(m);
  t.deepEqual(Object.keys(after), Object.keys(before));
  for (const k of Object.keys(before)) {
    if (k.startsWith('fc.')) t.is(after[k].length, k === 'fc.weight' ? 5 * 64 : 5, k);
    else t.true(same(after[k], before[k]), k);
  }
  const other = await ResNet.pretrained('resnet20', { device: 'cpu' });
  other.resetClassifier(5, { seed: 1 });
  t.true(same((await tensors(other))['fc.weight'], after['fc.weight']));
  t.is((await m.predict(new Float32Array(3072), 1)).length, 5);
  t.throws(() => m.resetClassifier(0), { instanceOf: RangeError, message: /numClasses/ });
  m.dispose();
  other.dispose();
});

test('freeze and lrScale: frozen stages keep their weights and BatchNorm statistics, a rate of 0 keeps a stage\'s weights', async (t) => {
  const data = (await Cifar10.load(anyCifarDir(t), { split: 'test' })).slice(0, 512);
  const m = new ResNet({ depth: 8, seed: 3, device: 'cpu' });
  await new Trainer(m, { iterations: 2, batchSize: 64, milestones: [] }).fit(data); // statistics away from 0 / 1
  const before = await tensors(m);
  await new Trainer(m, { iterations: 3, batchSize: 64, milestones: [], freeze: 'backbone' }).fit(data);
  const frozen = await tensors(m);
  for (const k of Object.keys(before)) {
    if (k.endsWith('num_batches_tracked')) continue;
    t.is(same(frozen[k], before[k]), stageOf(k) !== 'fc', k);
  }
  // After the fit every stage trains again.
  await new Trainer(m, { iterations: 2, batchSize: 64, milestones: [] }).fit(data);
  const free = await tensors(m);
  t.false(same(free['conv.weight'], frozen['conv.weight']));
  // A stage at rate 0: its weights stay (weight decay too goes through the rate), its BatchNorm still learns statistics.
  await new Trainer(m, { iterations: 2, batchSize: 64, milestones: [], lrScale: { block1: 0, fc: 2 } }).fit(data);
  const scaled = await tensors(m);
  t.true(same(scaled['block1.0.conv1.weight'], free['block1.0.conv1.weight']));
  t.true(same(scaled['block1.0.bn1.weight'], free['block1.0.bn1.weight']));
  t.false(same(scaled['block1.0.bn1.running_mean'], free['block1.0.bn1.running_mean']));
  t.false(same(scaled['block2.0.conv1.weight'], free['block2.0.conv1.weight']));
  t.throws(() => new Trainer(m, { freeze: ['block4' as 'block1'] }), { instanceOf: RangeError, message: /freeze\[0\]/ });
  t.throws(() => new Trainer(m, { lrScale: { head: 1 } as object }), { instanceOf: TypeError, message: /Unknown option 'head'/ });
  t.throws(() => new Trainer(m, { lrScale: { fc: -1 } }), { instanceOf: RangeError, message: /lrScale.fc/ });
  m.dispose();
});

test('a colour network meets grey images with their channel repeated three times', async (t) => {
  const pixels = Uint8Array.from({ length: 6 * 16 * 16 }, (_, i) => (i * 13) % 256);
  const grey = await ImageDataset.fromArrays(pixels, [0, 1, 0, 1, 0, 1], { shape: { channels: 1, height: 16, width: 16 }, layout: 'nchw', classes: ['a', 'b'] });
  const colour = new ResNet({ depth: 8, numClasses: 2, seed: 1, device: 'cpu' });
  const normalization = { kind: 'channel' as const, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  const e = await colour.evaluate(grey, { normalization });
  // The same images given as colour ones by hand.
  const rgb = new Uint8Array(6 * 3 * 256);
  for (let i = 0; i < 6; i++) for (let c = 0; c < 3; c++) rgb.set(pixels.subarray(i * 256, (i + 1) * 256), (i * 3 + c) * 256);
  const asColour = await ImageDataset.fromArrays(rgb, [0, 1, 0, 1, 0, 1], { shape: { channels: 3, height: 16, width: 16 }, layout: 'nchw', classes: ['a', 'b'] });
  t.deepEqual(e, await colour.evaluate(asColour, { normalization }));
  const b = await new Trainer(colour, { batchSize: 6, normalization }).trainingBatch(grey, 0);
  t.deepEqual(b, await new Trainer(colour, { batchSize: 6, normalization }).trainingBatch(asColour, 0));
  const greyNet = new ResNet({ depth: 8, numClasses: 2, inChannels: 1, device: 'cpu' });
  await t.throwsAsync(() => greyNet.evaluate(asColour, { normalization: { kind: 'channel', mean: [0.5], std: [0.25] } }), { message: /Expected a model of 3 input channel\(s\)/ });
  colour.dispose();
  greyNet.dispose();
});

withFashionMnist()('fineTune: the shipped ResNet-20 on 100 Fashion-MNIST images per class, head then all layers', async (t) => {
  const all = await ImageDataset.loadMnist(FASHION_MNIST!, { classes: FASHION_MNIST_CLASSES });
  const test_ = (await ImageDataset.loadMnist(FASHION_MNIST!, { split: 'test', classes: FASHION_MNIST_CLASSES })).slice(0, 2000);
  // The first 1,000 training images (about 100 per class).
  const few = all.slice(0, 1000);
  const m = await ResNet.pretrained('resnet20', { device: 'cpu' });
  const phases = new Set<string>();
  const r = await fineTune(m, few, { headEpochs: 1, epochs: 2, onProgress: (e) => phases.add(e.phase) });
  t.deepEqual([...phases].sort(), ['all', 'head']);
  t.is(r.head.iterations, 16);
  t.is(r.all.iterations, 32);
  t.is(m.config.numClasses, 10);
  t.is(m.config.inChannels, 3);
  t.deepEqual(m.classNames, FASHION_MNIST_CLASSES);
  const e = await m.evaluate(test_);
  t.log(`fine-tuned on 1,000 images for 1 + 2 epochs: test error ${e.error.toFixed(2)} % on 2,000 test images`);
  t.true(e.error < 60, `test error ${e.error}`);
  m.dispose();
});
