import * as os from 'node:os';
import * as path from 'node:path';
import { native } from './native';
import { integer } from './validate';

/** This package's version (package.json), as the CLI, run folders and ONNX exports report it. */
export const PACKAGE_VERSION = (require('../../package.json') as { version: string }).version;

/** What this process runs on: the libtorch loaded, CUDA, threads, the CPU's bf16 path, the addon. */
export interface Info {
  /** The libtorch the addon loaded. */
  libtorch: {
    /** libtorch's version, e.g. '2.13.0'. */
    version: string;
    /** Folder of the libtorch libraries actually loaded. */
    path: string;
    /** The c10 and torch_cpu libraries the process loaded (one libtorch, never two). */
    libraries: { c10: string; torch_cpu: string };
    /** Whether this build links a CUDA libtorch. */
    cuda: boolean;
  };
  /** Whether CUDA can run here, how many devices are visible, and whether cuDNN is there. */
  cuda: { available: boolean; deviceCount: number; cudnn: boolean };
  /** libtorch's intra-op threads (setNumThreads, OMP_NUM_THREADS). */
  threads: number;
  /** libtorch's inter-op threads. */
  interopThreads: number;
  /** The fused train-mode BatchNorm + ReLU CPU kernels: 'openmp' (on libtorch's threads) or 'single-thread'. */
  fusedKernels: 'openmp' | 'single-thread';
  /**
   * This CPU's bfloat16 support and the path `precision: 'bf16'` takes on it: AMX-BF16 tiles, AVX512-BF16, or
   * 'emulated' (neither: bf16 works but is slower than fp32). `isaCap` is oneDNN's ONEDNN_MAX_CPU_ISA (or
   * DNNL_MAX_CPU_ISA) when set: the path is what oneDNN will use under it (AVX2 there means 'emulated' on any CPU).
   */
  cpu: { amxBf16: boolean; avx512Bf16: boolean; bf16: 'amx-bf16' | 'avx512-bf16' | 'emulated'; isaCap: string | null };
  /**
   * The c10d backends this build has for data-parallel training: 'gloo' (needs libgloo-dev at build time), 'nccl'
   * (CUDA builds with NCCL's header), or none.
   */
  distributed: string[];
  /** The .node file in use and which build produced it. */
  addon: { path: string; build: 'cmake-js' | 'node-gyp' };
}

/** libtorch version and location, CUDA availability and device count, thread counts. */
export function info(): Info {
  const n = native().info();
  return {
    libtorch: {
      version: n.version,
      path: path.dirname(n.libraries.torch_cpu),
      libraries: { c10: n.libraries.c10, torch_cpu: n.libraries.torch_cpu },
      cuda: n.cuda,
    },
    cuda: { available: n.cudaAvailable, deviceCount: n.cudaDeviceCount, cudnn: n.cudnnAvailable },
    threads: n.threads,
    interopThreads: n.interopThreads,
    fusedKernels: n.fusedKernels,
    cpu: { ...n.cpu },
    distributed: [...n.distributed],
    addon: { path: n.libraries.addon, build: n.build },
  };
}

/**
 * This machine in a few words, for records of where something ran: the CPU's model, its logical cores and the path
 * bf16 takes on it, e.g. 'Intel(R) Xeon(R) Processor (2 cores, bf16: amx-bf16)'.
 */
export function machineName(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() || 'unknown CPU'} (${cpus.length} cores, bf16: ${native().info().cpu.bf16})`;
}

/** Intra-op threads libtorch uses (like torch.set_num_threads). */
export function setNumThreads(threads: number): void {
  native().setNumThreads(integer('threads', threads, 1, 1024));
}
