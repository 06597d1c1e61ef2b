// Same weights, same images, same logits as the seed's PyTorch model (Python torch from the same wheel).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet } from '../lib/index';
import { cifarDir, cifarImages, py, randomImages, readF32, REAL_CIFAR, relError, tmpDir, withPython, withRealCifar } from './helpers';

const N = 32;

function inputs(t: Parameters<typeof cifarDir>[0]): Float32Array {
  const dir = cifarDir(t);
  return dir ? cifarImages(dir, N) : randomImages(N);
}

for (const [depth, shortcut] of [[20, 'A'], [32, 'B'], [20, 'plain']] as const) {
  withPython()(`ours -> PyTorch: ResNet-${depth} ${shortcut} saved by us gives PyTorch's logits`, async (t) => {
    const dir = tmpDir();
    const x = inputs(t);
    fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.from(x.buffer));
    const m = new ResNet({ depth, shortcut, seed: 21 });
    // Give BN non-trivial running statistics: a few train-mode forwards.
    m.train();
    for (let i = 0; i < 3; i++) await m.predict(randomImages(16, i + 1));
    m.eval();
    const ours = await m.predict(x);
    await m.save(path.join(dir, 'ours.pt'));
    await py(['check', '--ckpt', path.join(dir, 'ours.pt'), '--input', path.join(dir, 'in.f32'), '--n', String(N), '--logits', path.join(dir, 'py.f32')]);
    const theirs = readF32(path.join(dir, 'py.f32'));
    const err = relError(ours, theirs);
    t.log(`relative error ${err.toExponential(2)}`);
    t.true(err < 1e-5, `relative error ${err}`);
  });
}

for (const [depth, shortcut, bias] of [[20, 'A', 0], [20, 'A', 1], [32, 'B', 0], [20, 'plain', 1]] as const) {
  withPython()(`PyTorch -> ours: a state_dict of the seed model (depth ${depth}, ${shortcut}, conv bias ${bias}) loads and gives the same logits`, async (t) => {
    const dir = tmpDir();
    const x = inputs(t);
    fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.from(x.buffer));
    await py(['export', '--depth', String(depth), '--shortcut', shortcut, '--bias', String(bias), '--ckpt', path.join(dir, 'sd.pt'),
      '--input', path.join(dir, 'in.f32'), '--n', String(N), '--logits', path.join(dir, 'py.f32')]);
    const m = new ResNet({ depth, shortcut });
    await m.loadStateDict(path.join(dir, 'sd.pt'));
    const ours = await m.predict(x);
    const err = relError(ours, readF32(path.join(dir, 'py.f32')));
    t.log(`relative error ${err.toExponential(2)}`);
    t.true(err < 1e-5, `relative error ${err}`);
  });
}

withPython()('state dict keys and parameter counts equal the bias-free seed model, for A and B', async (t) => {
  for (const [depth, shortcut] of [[20, 'A'], [56, 'A'], [32, 'B']] as const) {
    const ref = JSON.parse(await py(['names', '--depth', String(depth), '--shortcut', shortcut]));
    const m = new ResNet({ depth, shortcut });
    t.deepEqual([...m.stateDictKeys()].sort(), [...ref.keys].sort());
    t.is(m.parameterCount, ref.params);
  }
});

withPython([], withRealCifar())('evaluate on the real test set gives the same error as PyTorch for the same weights', async (t) => {
  const data = REAL_CIFAR!;
  const dir = tmpDir();
  const x = randomImages(2);
  fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.from(x.buffer));
  const out = await py(['export', '--depth', '20', '--shortcut', 'A', '--bias', '1', '--ckpt', path.join(dir, 'sd.pt'),
    '--input', path.join(dir, 'in.f32'), '--n', '2', '--logits', path.join(dir, 'py.f32'), '--eval-dir', data]);
  const theirs = JSON.parse(out.trim().split('\n').pop()!).error;
  const m = new ResNet({ depth: 20 });
  await m.loadStateDict(path.join(dir, 'sd.pt'));
  const ours = await m.evaluate(await Cifar10.load(data, { split: 'test' }));
  t.log(`test error: ours ${ours.error.toFixed(2)} %, PyTorch ${theirs.toFixed(2)} %`);
  t.true(Math.abs(ours.error - theirs) <= 0.02, `${ours.error} vs ${theirs}`);
});
