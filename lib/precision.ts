// The arithmetic precision of a network's compute: 'fp32', or 'bf16' as PyTorch's autocast does it (convolutions
// and matmuls in bfloat16; weights, optimizer state, BatchNorm statistics and the loss in float32).
import { native } from './native';
import * as v from './validate';

export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

export function checkPrecision(name: string, p: unknown): Precision {
  return v.oneOf(name, p, PRECISIONS);
}

/** What a user should know before running bf16 here: nothing where the CPU has AMX-BF16 or AVX512-BF16. */
export function precisionNote(p: Precision, device: string): string | undefined {
  if (p !== 'bf16' || device !== 'cpu') return undefined;
  const cpu = native().info().cpu;
  if (cpu.bf16 !== 'emulated') return undefined;
  return 'this CPU has neither AMX-BF16 nor AVX512-BF16: bf16 runs emulated and is slower than fp32 here';
}
