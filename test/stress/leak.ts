// Memory: create -> predict -> short train -> dispose in a loop must not grow RSS; models dropped without
// dispose must be freed by the garbage collector.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Cifar10, ResNet, Trainer } from '../../lib/index';

export function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const MiB = 2 ** 20;

export async function cycles(data: Cifar10, n: number, warmup = 50): Promise<{ cycles: number; growthMiB: number; baseMiB: number }> {
  let base = 0;
  const x = new Float32Array(4 * 3072);
  for (let i = 0; i < n; i++) {
    const m = new ResNet({ depth: 8, device: 'cpu', seed: i });
    await m.predict(x);
    await new Trainer(m, { iterations: 1, batchSize: 4, milestones: [] }).fit(data);
    m.dispose();
    if (i === warmup - 1) {
      gc();
      base = process.memoryUsage().rss;
    }
  }
  gc();
  const end = process.memoryUsage().rss;
  return { cycles: n, growthMiB: (end - base) / MiB, baseMiB: base / MiB };
}

/** Creates `n` ResNet-56 models (3.4 MB of weights each) and drops them without dispose. */
export async function collected(n: number): Promise<{ models: number; growthMiB: number }> {
  gc();
  const base = process.memoryUsage().rss;
  for (let i = 0; i < n; i++) {
    let m: ResNet | undefined = new ResNet({ depth: 56, device: 'cpu', seed: 0 });
    await m.predict(new Float32Array(3072));
    m = undefined;
    if (i % 20 === 19) {
      gc();
      await new Promise((r) => setImmediate(r)); // let finalizers run
    }
  }
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  return { models: n, growthMiB: (process.memoryUsage().rss - base) / MiB };
}
