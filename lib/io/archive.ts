// Reads chosen members of a .tar.gz in memory, without extraction to disk: native/core/codecs/tar_gz.cc, off the main
// thread (gzip around ustar, GNU long names and pax paths; each member refused from its header when it declares
// more than it may have, so nothing larger than the sizes given is ever held).
import { native } from '../base/native';

export interface TarMember {
  /** Path inside the archive, without "./" and empty parts. */
  name: string;
  data: Uint8Array;
}

/**
 * The regular-file members of `file` named in `wanted` (path -> the most bytes it may have), plus every member
 * name seen (for error messages). Errors name the file and what was wrong.
 */
export function readTarGz(file: string, wanted: Record<string, number>): Promise<{ members: TarMember[]; names: string[] }> {
  return native().readTarGz(file, wanted);
}
