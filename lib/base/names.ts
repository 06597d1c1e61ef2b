// How a network and a run are named, once: the label people read (progress lines, tables, charts) and the run
// folder's name. Imports nothing but types.
import type { NativeShortcut } from './native';

/** 'ResNet-20', 'ResNet-20 (B)' (projection shortcuts) or 'plain-20' (no shortcuts: the paper's plain nets). */
export function networkLabel(depth: number, shortcut: NativeShortcut): string {
  return shortcut === 'plain' ? `plain-${depth}` : `ResNet-${depth}${shortcut === 'B' ? ' (B)' : ''}`;
}

/** The family a chart panel shows: 'ResNet', 'ResNet (B)' or 'plain'. */
export function networkFamily(shortcut: NativeShortcut): string {
  return shortcut === 'plain' ? 'plain' : shortcut === 'B' ? 'ResNet (B)' : 'ResNet';
}

/** A run's label: 'ResNet-20 seed 0'. */
export function runLabel(depth: number, shortcut: NativeShortcut, seed: number): string {
  return `${networkLabel(depth, shortcut)} seed ${seed}`;
}

/** A run folder's name: resnet20-seed0, resnet20-B-seed0, resnet20-plain-seed0. */
export function runName(depth: number, shortcut: NativeShortcut, seed: number): string {
  return `resnet${depth}${shortcut === 'A' ? '' : `-${shortcut}`}-seed${seed}`;
}
