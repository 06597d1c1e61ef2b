// torchrun's environment, read and written in one place: the variables each worker process gets (RANK,
// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and whether this process is one. Imports nothing.

export const TORCHRUN_VARIABLES = ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'] as const;

export interface TorchrunWorker {
  rank: number;
  localRank: number | undefined;
  worldSize: number;
  masterAddr: string | undefined;
  masterPort: number | undefined;
  /** torchrun (2.x) hosts the TCPStore in its agent and says so (TORCHELASTIC_USE_AGENT_STORE). */
  agentStore: boolean;
}

/** This process as a torchrun worker (RANK and WORLD_SIZE both set), else undefined. */
export function torchrunWorker(env: NodeJS.ProcessEnv = process.env): TorchrunWorker | undefined {
  if (env.RANK === undefined || env.WORLD_SIZE === undefined) return undefined;
  return {
    rank: Number(env.RANK),
    localRank: env.LOCAL_RANK === undefined ? undefined : Number(env.LOCAL_RANK),
    worldSize: Number(env.WORLD_SIZE),
    masterAddr: env.MASTER_ADDR,
    masterPort: env.MASTER_PORT === undefined ? undefined : Number(env.MASTER_PORT),
    agentStore: env.TORCHELASTIC_USE_AGENT_STORE === 'True',
  };
}

/** The environment of worker `rank` of `worldSize` (`localWorldSize` per machine), as torchrun sets it. */
export function torchrunEnv(w: { rank: number; localRank: number; worldSize: number; localWorldSize: number;
  masterAddr: string; masterPort: number }): Record<(typeof TORCHRUN_VARIABLES)[number], string> {
  return {
    RANK: String(w.rank), LOCAL_RANK: String(w.localRank), WORLD_SIZE: String(w.worldSize),
    LOCAL_WORLD_SIZE: String(w.localWorldSize), MASTER_ADDR: w.masterAddr, MASTER_PORT: String(w.masterPort),
  };
}

/** `env` without torchrun's variables: a child that must not join this process's group. */
export function withoutTorchrun(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of TORCHRUN_VARIABLES) delete out[k];
  return out;
}
