// The arithmetic precision of a network's compute: 'fp32'; 'tf32' on CUDA (float32 with TensorFloat-32 rounding
// inside convolutions and matmuls); or 'bf16' as PyTorch's autocast does it (convolutions and matmuls in bfloat16;
// weights, optimizer state, BatchNorm statistics and the loss in float32).
import { native } from './native';
import type { Precision } from './types';
import * as v from './validate';

export type { Precision };

/** A precision for a network on `device` ('cpu', 'cuda:0', ...; unknown yet: undefined): 'tf32' is CUDA's only. */
export function checkPrecision(name: string, p: unknown, device: string | undefined): Precision {
  const precision = v.oneOf(name, p, native().constants.precisions);
  if (precision === 'tf32' && device !== undefined && !device.startsWith('cuda')) {
    throw v.invalid(name, `'fp32' or 'bf16' on ${device} ('tf32' is the tensor-core float32 of NVIDIA GPUs)`, 'tf32', RangeError);
  }
  return precision;
}

/** What a user should know before running bf16 here: nothing where the CPU has AMX-BF16 or AVX512-BF16. */
export function precisionNote(p: Precision, device: string): string | undefined {
  if (p !== 'bf16' || device !== 'cpu') return undefined;
  const cpu = native().info().cpu;
  if (cpu.bf16 !== 'emulated') return undefined;
  return 'this CPU has neither AMX-BF16 nor AVX512-BF16: bf16 runs emulated and is slower than fp32 here';
}
