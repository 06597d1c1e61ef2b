// The CLI's arguments: parsing with node:util, and every option's rule and message (a UsageError, printed as one
// line with a pointer to --help).
import * as fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Cifar10 } from '../data/cifar10';
import { checkDepth, checkShortcut } from '../model/model-checks';
import { CIFAR10_CHANNEL_NORMALIZATION, type Normalization } from '../base/normalization';
import { checkPrecision, type Precision } from '../base/precision';
import type { DeviceSpec, Shortcut } from '../model/resnet';
import * as v from '../base/validate';

export class UsageError extends Error {}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
export type Opts = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Opts = { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } };
export const DATA: Opts = { data: { type: 'string' }, download: { type: 'boolean' } };

export function parse(cmd: string, argv: string[], options: Opts, positionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option/, 'unknown option');
    throw new UsageError(`${cmd}: ${msg}`);
  }
}

/** A string option's value (undefined when not given). */
export function str(values: Values, name: string): string | undefined {
  return values[name] as string | undefined;
}

export function int(name: string, s: string | undefined, def: number, min = 0): number {
  if (s === undefined) return def;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${name} expects an integer, got '${s}'`);
  const n = Number(s);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

export function num(name: string, s: string | undefined, def: number): number {
  if (s === undefined) return def;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${s}'`);
  return n;
}

export function list(name: string, s: string | undefined, def: number[], length?: number): number[] {
  if (s === undefined) return def;
  const xs = s.split(',').map((x) => x.trim());
  if (xs.some((x) => x === '' || !Number.isFinite(Number(x))) || (length !== undefined && xs.length !== length)) {
    throw new UsageError(`--${name} expects ${length ?? 'a list of'} comma-separated numbers, got '${s}'`);
  }
  return xs.map(Number);
}

export function depthArg(s: string | undefined, def: number): number {
  const d = int('depth', s, def);
  return asFlags({ depth: 'depth' }, () => checkDepth(d));
}

/**
 * A library rule's error (an InvalidOption, lib/base/validate.ts) in the CLI's words, naming the flag that set the option
 * ("--lr must be a positive finite number, got -1"); `flags` maps option names to flags. Other errors pass through.
 */
export function flagError(e: unknown, flags: Record<string, string>): unknown {
  if (!v.isInvalidOption(e)) return e;
  const flag = flags[e.option.replace(/\[\d+\]$/, '')];
  if (flag === undefined) return e;
  return new UsageError(`--${flag} must be ${e.requirement.replace(/^to be /, '')}, got ${e.received}`);
}

/**
 * `f()`, a check of options the user gave, with the library's option errors said as flag errors (flagError); its
 * other TypeErrors and RangeErrors (rules across options) are usage errors in the library's words.
 */
export function asFlags<T>(flags: Record<string, string>, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const said = flagError(e, flags);
    throw said instanceof TypeError || said instanceof RangeError ? new UsageError(said.message) : said;
  }
}

export function shortcutArg(s: string | undefined): Shortcut {
  return asFlags({ shortcut: 'shortcut' }, () => checkShortcut(s ?? 'A'));
}

export function precisionArg(s: string | undefined): Precision {
  return asFlags({ precision: 'precision' }, () => checkPrecision('precision', s ?? 'fp32', undefined));
}

export function deviceArg(s: string | undefined): DeviceSpec {
  return asFlags({ device: 'device' }, () => v.device('device', s ?? 'auto')) as DeviceSpec;
}

/** --data or the places Cifar10.locate looks (with --download: fetched into the cache, progress on a TTY). */
export async function dataArg(values: Values, json: boolean): Promise<string> {
  const source = typeof values.data === 'string' ? values.data : undefined;
  if (source !== undefined && !fs.existsSync(source)) throw new UsageError(`--data ${source} does not exist`);
  try {
    return await Cifar10.locate({
      source,
      download: values.download ? {
        onProgress: json || !process.stderr.isTTY ? undefined
          : (p) => process.stderr.write(`\rdownloading CIFAR-10: ${(p.received / 2 ** 20).toFixed(1)}${p.total ? ` / ${(p.total / 2 ** 20).toFixed(1)}` : ''} MiB`),
      } : false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const IMAGENET_NORMALIZATION: Normalization = { kind: 'channel', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** --normalize cifar | imagenet | a,b,c/d,e,f (or the older --mean a,b,c --std d,e,f); undefined when not given. */
export function normalizeArg(values: Values): Normalization | undefined {
  const s = str(values, 'normalize');
  if (s !== undefined && (values.mean || values.std)) throw new UsageError('give --normalize or --mean/--std, not both');
  if (values.mean || values.std) {
    const c = CIFAR10_CHANNEL_NORMALIZATION as { mean: number[]; std: number[] };
    return { kind: 'channel', mean: list('mean', str(values, 'mean'), c.mean, 3), std: list('std', str(values, 'std'), c.std, 3) };
  }
  if (s === undefined) return undefined;
  if (s === 'cifar') return CIFAR10_CHANNEL_NORMALIZATION;
  if (s === 'imagenet') return IMAGENET_NORMALIZATION;
  const parts = s.split('/');
  if (parts.length !== 2) throw new UsageError(`--normalize expects cifar, imagenet or MEAN/STD (a,b,c/d,e,f), got '${s}'`);
  return { kind: 'channel', mean: list('normalize', parts[0], [], 3), std: list('normalize', parts[1], [], 3) };
}

export function existingFile(file: string): string {
  if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist`);
  return file;
}
