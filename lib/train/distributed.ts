// Data-parallel options checked once, as the addon takes them: explicit ranks, or torchrun's environment.
import { native, type NativeFitOptions } from '../base/native';
import { DISTRIBUTED } from '../base/recipe';
import { torchrunWorker } from '../base/torchrun';
import * as v from '../base/validate';

export const DISTRIBUTED_KEYS = ['rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutMs', 'syncBatchNorm'];

/** Checked distributed options, as the addon takes them; `true` (or no rank and worldSize) takes torchrun's environment. */
export function checkDistributed(d: unknown): NonNullable<NativeFitOptions['distributed']> {
  if (native().info().distributed.length === 0) {
    throw new Error('Distributed training needs a build with c10d\'s Gloo backend: install libgloo-dev (Debian/Ubuntu) ' +
      'and rebuild (npm run build:native); info().distributed lists the backends a build has');
  }
  let o: Record<string, unknown> = d === true ? {} : v.checkKeys('distributed', d, DISTRIBUTED_KEYS);
  const fromEnv = o.rank === undefined && o.worldSize === undefined;
  const worker = fromEnv ? torchrunWorker() : undefined;
  if (fromEnv) {
    if (worker === undefined) {
      const missing = process.env.RANK === undefined ? 'RANK' : 'WORLD_SIZE';
      throw new Error('Expected the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) for ' +
        `distributed without rank and worldSize, but ${missing} is not set`);
    }
    o = { ...o, rank: worker.rank, worldSize: worker.worldSize, masterAddr: o.masterAddr ?? worker.masterAddr,
      masterPort: o.masterPort ?? worker.masterPort };
  }
  const worldSize = v.integer('distributed.worldSize', o.worldSize, 1, 65_536);
  return {
    worldSize,
    rank: v.integer('distributed.rank', o.rank, 0, worldSize - 1),
    masterAddr: o.masterAddr === undefined ? DISTRIBUTED.masterAddr : v.nonEmptyString('distributed.masterAddr', o.masterAddr),
    masterPort: v.integer('distributed.masterPort', o.masterPort ?? DISTRIBUTED.masterPort, 1, 65_535),
    // torchrun (2.x) hosts the store in its agent and says so; PyTorch's workers then all join it as clients.
    agentStore: worker?.agentStore ?? false,
    timeoutMs: v.integer('distributed.timeoutMs', o.timeoutMs ?? DISTRIBUTED.timeoutMs, 1000, 86_400_000),
    syncBatchNorm: v.boolean('distributed.syncBatchNorm', o.syncBatchNorm ?? false),
  };
}
