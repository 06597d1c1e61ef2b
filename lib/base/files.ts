// Files lib/ writes (run folders' JSON, tables, charts).
import { native } from './native';

/**
 * Writes `file` as checkpoints are written (one implementation, native/core/base/files.cc): a new temporary file that
 * never follows a symlink, fsynced, renamed over `file`; a reader sees the old file or the new one.
 */
export function writeAtomic(file: string, data: string | Buffer): void {
  native().writeFileAtomic(file, data);
}
