import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cifar10, ResNet, loadTorchScript } from '../lib/index';
import { anyCifarDir, py, readF32, relError, tmpDir, withPython } from './helpers';

withPython()('scripted and traced modules trained in PyTorch 2.13 evaluate to the same test error as in PyTorch', async (t) => {
  const dir = anyCifarDir(t);
  const out = tmpDir();
  const ref = JSON.parse(await py(['torchscript', '--depth', '20', '--steps', '30', '--eval-dir', dir, '--out', out]));
  const data = await Cifar10.load(dir, { split: 'test' });
  const input = readF32(path.join(out, 'input4.f32'));
  const logits = readF32(path.join(out, 'logits4.f32'));
  for (const kind of ['scripted', 'traced']) {
    const m = await loadTorchScript(path.join(out, `${kind}.pt`), { device: 'cpu' });
    t.is(m.numClasses, 10);
    t.is(m.device, 'cpu');
    const r = await m.evaluate(data);
    t.log(`${kind}: ours ${r.error.toFixed(2)} %, PyTorch ${ref.error.toFixed(2)} %`);
    t.is(r.error, ref.error);
    t.is(r.count, 10000);
    t.true(relError(await m.predict(input), logits) < 1e-5);
    m.dispose();
    t.true(m.disposed);
    await t.throwsAsync(m.predict(input), { message: /disposed/ });
  }
});

withPython()('normalize overrides the default per-channel statistics', async (t) => {
  const dir = anyCifarDir(t);
  const out = tmpDir();
  await py(['torchscript', '--depth', '8', '--steps', '2', '--eval-dir', dir, '--out', out]);
  const data = await Cifar10.load(dir, { split: 'test' });
  const a = await (await loadTorchScript(path.join(out, 'scripted.pt'), { device: 'cpu' })).evaluate(data);
  const b = await (await loadTorchScript(path.join(out, 'scripted.pt'), {
    device: 'cpu', normalize: { kind: 'channel', mean: [0, 0, 0], std: [1, 1, 1] },
  })).evaluate(data);
  t.notDeepEqual(a.confusion, b.confusion);
  await t.throwsAsync(loadTorchScript(path.join(out, 'scripted.pt'), { normalize: { kind: 'channel', mean: [0], std: [1, 1, 1] } as never }),
    { message: /normalize\.mean to be 3 finite numbers/ });
});

test('files that are not TorchScript are clear errors', async (t) => {
  const dir = tmpDir();
  const junk = path.join(dir, 'junk.pt');
  fs.writeFileSync(junk, 'not a zip at all');
  await t.throwsAsync(loadTorchScript(junk, { device: 'cpu' }), { message: /junk\.pt is not a TorchScript module/ });
  await t.throwsAsync(loadTorchScript(path.join(dir, 'missing.pt')), { message: /Cannot open .*missing\.pt/ });
  const ckpt = path.join(dir, 'ckpt.pt');
  await new ResNet({ depth: 8, device: 'cpu' }).save(ckpt);
  await t.throwsAsync(loadTorchScript(ckpt, { device: 'cpu' }), { message: /ckpt\.pt is not a TorchScript module/ });
  await t.throwsAsync(loadTorchScript(''), { instanceOf: TypeError, message: /path to be a non-empty string/ });
  await t.throwsAsync(loadTorchScript(ckpt, { device: 'tpu' as never }), { instanceOf: RangeError });
  await t.throwsAsync(loadTorchScript(ckpt, { bogus: 1 } as never), { message: /Unknown option 'bogus'/ });
});
