// Option checking for everything public: each error says what was expected and what was received. Native code
// checks again only what keeps memory and types safe; the rules and the messages users see live here.
import { native } from './native';

/** A short, unambiguous rendering of a received value for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`;
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length: number }).length}`;
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return String(v);
}

export function expected(what: string, received: unknown, Err: new (m: string) => Error = TypeError): Error {
  return new Err(`Expected ${what} but received ${describe(received)}`);
}

/**
 * The one shape of an option's error: a TypeError (wrong type) or RangeError (wrong value) whose message is
 * "Expected <option> <requirement> but received <value>", with those three parts as fields, so that the CLI can say
 * the same in its own words for the flag that set the option.
 */
export interface InvalidOption extends Error {
  option: string;
  requirement: string;
  received: string;
}

export function invalid(option: string, requirement: string, received: unknown, Err: new (m: string) => Error = TypeError): InvalidOption {
  return Object.assign(new Err(`Expected ${option} ${requirement} but received ${describe(received)}`),
    { option, requirement, received: describe(received) });
}

export function isInvalidOption(e: unknown): e is InvalidOption {
  return e instanceof Error && typeof (e as Partial<InvalidOption>).option === 'string' && typeof (e as Partial<InvalidOption>).requirement === 'string';
}

/** Rejects keys a caller did not mean (typos), naming the allowed ones. */
export function checkKeys(where: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw expected(`${where} options to be an object`, options);
  }
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) {
      throw new TypeError(`Unknown option '${k}' for ${where} (expected one of: ${allowed.join(', ')})`);
    }
  }
  return options as Record<string, unknown>;
}

export function integer(name: string, v: unknown, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw invalid(name, 'to be an integer', v);
  if (!Number.isInteger(v)) throw invalid(name, 'to be an integer', v, RangeError);
  if (v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER && v < min ? `>= ${min}` : `between ${min} and ${max}`;
    throw invalid(name, range, v, RangeError);
  }
  return v;
}

/** A finite number in (0, max]. */
export function positive(name: string, v: unknown, max = Infinity): number {
  if (typeof v !== 'number') throw invalid(name, 'to be a number', v);
  const requirement = max === Infinity ? 'to be a positive finite number' : `in (0, ${max}]`;
  if (!Number.isFinite(v) || v <= 0 || v > max) throw invalid(name, requirement, v, RangeError);
  return v;
}

/** A finite number in [min, max) (or [min, max] with `closed`). */
export function inRange(name: string, v: unknown, min: number, max: number, closed = false): number {
  const requirement = max === Infinity ? `>= ${min}` : `in [${min}, ${max}${closed ? ']' : ')'}`;
  if (typeof v !== 'number') throw invalid(name, requirement, v);
  if (!(v >= min && (closed ? v <= max : v < max) && Number.isFinite(v))) throw invalid(name, requirement, v, RangeError);
  return v;
}

/** An AbortSignal, or undefined. */
export function abortSignal(name: string, v: unknown): AbortSignal | undefined {
  if (v !== undefined && (typeof v !== 'object' || v === null || typeof (v as AbortSignal).aborted !== 'boolean')) {
    throw expected(`${name} to be an AbortSignal`, v);
  }
  return v as AbortSignal | undefined;
}

export function boolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(name, 'to be a boolean', v);
  return v;
}

export function oneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw invalid(name, `to be one of ${values.map((x) => `'${x}'`).join(', ')}`, v, typeof v === 'string' ? RangeError : TypeError);
  }
  return v as T;
}

export function nonEmptyString(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw invalid(name, 'to be a non-empty string', v);
  return v;
}

export const DEVICE_PATTERN = /^(auto|cpu|cuda(:\d{1,4})?)$/;

/**
 * A device name that exists in this process: 'auto', 'cpu', or a CUDA device this build can use and this machine
 * has.
 */
export function device(name: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(name, "to be 'auto', 'cpu', 'cuda' or 'cuda:N'", v);
  if (!DEVICE_PATTERN.test(v)) throw invalid(name, "to be 'auto', 'cpu', 'cuda' or 'cuda:N'", v, RangeError);
  if (v.startsWith('cuda')) {
    const i = native().info();
    if (!i.cuda) {
      throw new Error(`Device '${v}' requested, but this build links a CPU-only libtorch (${i.version}); ` +
        'rebuild against a CUDA libtorch (LIBTORCH=...)');
    }
    if (i.cudaDeviceCount === 0) throw new Error(`Device '${v}' requested, but no CUDA device is visible`);
    const index = v === 'cuda' ? 0 : Number(v.slice(5));
    if (index >= i.cudaDeviceCount) {
      throw new RangeError(`Device '${v}' requested, but only ${i.cudaDeviceCount} CUDA device(s) are visible`);
    }
  }
  return v;
}

/** A plain object of checkpoint meta, without the keys the checkpoint format writes itself. */
export function meta(name: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw expected(`${name} to be a plain object`, v);
  }
  const reserved = native().constants.reservedMetaKeys;
  for (const k of Object.keys(v)) {
    if (reserved.includes(k)) {
      throw new TypeError(`${name} cannot set '${k}': the checkpoint format writes it (reserved: ${reserved.join(', ')})`);
    }
  }
  plainData(name, v, 1, native().constants.maxMetaNesting);
  return v as Record<string, unknown>;
}

/**
 * Numbers, strings, booleans, null and arrays / plain objects of them, nested at most `max` deep (`depth`: the
 * levels around v, itself included): what torch.load(weights_only=True) reads and every reader of ours reads back.
 */
function plainData(path: string, v: unknown, depth: number, max: number): void {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return;
  const bad = typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer ||
    (!Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null);
  if (bad) throw expected(`${path} to hold plain data (numbers, strings, booleans, null, arrays, plain objects)`, v);
  if (depth > max) throw new RangeError(`${path} nests deeper than ${max} levels of arrays and objects (or holds itself)`);
  for (const [k, x] of Object.entries(v)) plainData(Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, x, depth + 1, max);
}
