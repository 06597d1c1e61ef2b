import test from 'ava';
import { Cifar10, PAPER_TEST_ERRORS, ResNet, pretrainedModels } from '../lib/index';
import { REAL_CIFAR, withRealCifar } from './helpers';

withRealCifar()('the package ships ResNet-20 trained with the paper\'s recipe; each shipped network gives its recorded test error', async (t) => {
  const models = await pretrainedModels();
  const r20 = models.find((m) => m.name === 'resnet20');
  t.truthy(r20, `shipped: ${models.map((m) => m.name).join(', ') || 'none'}`);
  t.like(r20?.config, { depth: 20, shortcut: 'A', numClasses: 10 });
  t.like(r20?.training, { iterations: 64_000, batchSize: 128, lr: 0.1, holdout: 0, normalization: 'pixel' });
  t.deepEqual(r20?.training.milestones, [32_000, 48_000]);
  const data = REAL_CIFAR!;
  const test = await Cifar10.load(data, { split: 'test' });
  for (const m of models) {
    const net = await ResNet.pretrained(m.name, { device: 'cpu' });
    try {
      t.deepEqual(net.config, m.config);
      const e = await net.evaluate(test); // the normalization it was trained with, from the file
      t.log(`${m.name}: test error ${e.error.toFixed(2)} % (recorded ${m.testError.toFixed(2)} %, paper ${PAPER_TEST_ERRORS[m.config.depth] ?? '–'} %)`);
      t.true(Math.abs(e.error - m.testError) <= 0.02, `${m.name}: ${e.error} vs recorded ${m.testError}`);
      // Trained, not merely loadable: within 1.5 points of the paper's figure for its depth.
      t.true(m.testError <= PAPER_TEST_ERRORS[m.config.depth] + 1.5, `${m.name}: ${m.testError} %`);
    } finally {
      net.dispose();
    }
  }
});

test('ResNet.pretrained refuses unknown names (naming the shipped ones) and unknown options', async (t) => {
  await t.throwsAsync(ResNet.pretrained('resnet21'), { instanceOf: RangeError, message: /^Expected name to be one of 'resnet20'.* but received 'resnet21'$/ });
  await t.throwsAsync(ResNet.pretrained(20 as never), { instanceOf: TypeError, message: /but received 20$/ });
  await t.throwsAsync(ResNet.pretrained('resnet20', { shortcut: 'B' } as never), { message: /Unknown option 'shortcut' for ResNet.pretrained \(expected one of: device\)/ });
  await t.throwsAsync(ResNet.pretrained('resnet20', { device: 'tpu' as never }), { message: /Expected device to be/ });
});
