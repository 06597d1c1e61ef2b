// Option checking for everything public: each error says what was expected and what was received.

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
  if (typeof v !== 'number') throw expected(`${name} to be an integer`, v);
  if (!Number.isInteger(v)) throw expected(`${name} to be an integer`, v, RangeError);
  if (v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw expected(`${name} ${range}`, v, RangeError);
  }
  return v;
}

export function oneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw expected(`${name} to be one of ${values.map((x) => `'${x}'`).join(', ')}`, v, typeof v === 'string' ? RangeError : TypeError);
  }
  return v as T;
}

export function nonEmptyString(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw expected(`${name} to be a non-empty string`, v);
  return v;
}

export const DEVICE_PATTERN = /^(auto|cpu|cuda(:\d{1,4})?)$/;

export function device(name: string, v: unknown): string {
  if (typeof v !== 'string') throw expected(`${name} to be 'auto', 'cpu', 'cuda' or 'cuda:N'`, v);
  if (!DEVICE_PATTERN.test(v)) throw expected(`${name} to be 'auto', 'cpu', 'cuda' or 'cuda:N'`, v, RangeError);
  return v;
}
