// train --nproc-per-node N [--nnodes M --node-rank K --master-addr A --master-port P]: this machine's workers,
// started as torchrun starts them.
import * as os from 'node:os';
import { DISTRIBUTED } from '../base/recipe';
import { torchrunEnv } from '../base/torchrun';
import { UsageError, int, str, type Values } from './args';
import { cliChildren, exitCode } from './children';

/** The options that ask for a launch; the workers get the rest of the command line. */
export const LAUNCH_OPTS = ['nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port'];

/**
 * This machine's N workers, as torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; the
 * cores split between them). Rank 0 prints and keeps the run folder; the others print only errors. Ctrl-C reaches
 * every worker, which stop together with a checkpoint. Resolves with rank 0's exit code, or the first failure's.
 */
export async function launch(argv: string[], values: Values): Promise<number> {
  const s = (k: string) => str(values, k);
  const perNode = int('nproc-per-node', s('nproc-per-node'), 1, 1);
  const nnodes = int('nnodes', s('nnodes'), 1, 1);
  const nodeRank = int('node-rank', s('node-rank'), 0);
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank must be below --nnodes (${nnodes}), got ${nodeRank}`);
  const port = int('master-port', s('master-port'), DISTRIBUTED.masterPort, 1);
  if (port > 65535) throw new UsageError(`--master-port must be at most 65535, got ${port}`);
  const addr = s('master-addr') ?? DISTRIBUTED.masterAddr;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '').split('=')[0];
    if (LAUNCH_OPTS.includes(name)) {
      if (!argv[i].includes('=')) i++;
      continue;
    }
    rest.push(argv[i]);
  }
  const threads = Math.max(1, Math.floor(os.availableParallelism() / perNode));
  const world = perNode * nnodes;
  const workers = cliChildren();
  const children = Array.from({ length: perNode }, (_, local) => {
    const rank = nodeRank * perNode + local;
    const env = torchrunEnv({ rank, localRank: local, worldSize: world, localWorldSize: perNode, masterAddr: addr, masterPort: port });
    return workers.spawn(['train', ...rest], { ...process.env, ...env, OMP_NUM_THREADS: String(threads) },
      ['ignore', rank === 0 ? 'inherit' : 'ignore', 'inherit']);
  });
  try {
    const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => {
      c.on('close', (code, signal) => resolve(exitCode(code, signal)));
    })));
    return codes.find((c) => c !== 0 && c !== 130) ?? codes[0];
  } finally {
    workers.dispose();
  }
}
