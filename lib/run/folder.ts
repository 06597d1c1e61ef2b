// Making a run folder ready for one start: a new run, or a --resume that can continue it exactly (the settings that
// must match), with metrics.jsonl cut back to what the checkpoint knows and config.json written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomic } from '../base/files';
import { PACKAGE_VERSION, info } from '../base/info';
import { CHECKPOINT_FILE, readCheckpointMeta } from '../io/checkpoint';
import { RESUME_KEYS, type RunConfig } from './config';
import { readMetrics } from './records';

export class RunError extends Error {}

/** Settings written only when set: a resume that adds one changes the run. */
const UNSET_IS_A_VALUE: (keyof RunConfig)[] = ['imageSize', 'grayscale', 'from', 'freeze'];

/**
 * Makes `out` ready for this start: refuses another run (without --resume) and a --resume with settings that cannot
 * continue it exactly; keeps only the metrics the checkpoint knows; writes config.json; removes an old final.json.
 * Returns the iteration this start resumes from (0 for a new run).
 */
export async function prepareFolder(o: { out: string; data: string; config: RunConfig; resume: boolean }): Promise<number> {
  const { out, config: c } = o;
  fs.mkdirSync(out, { recursive: true });
  const ckpt = path.join(out, CHECKPOINT_FILE);
  const cfgFile = path.join(out, 'config.json');
  let resumeFrom = 0;
  if (fs.existsSync(ckpt) || fs.existsSync(path.join(out, 'final.json'))) {
    if (!o.resume) {
      throw new RunError(`${out} already holds a run (${CHECKPOINT_FILE}); pass --resume to continue it or choose another --out`);
    }
    const old = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Partial<RunConfig> : {};
    for (const k of RESUME_KEYS) {
      // A key older versions did not write is compared when the run has it; an optional setting's absence is a value.
      if ((old[k] !== undefined || UNSET_IS_A_VALUE.includes(k)) && JSON.stringify(old[k]) !== JSON.stringify(c[k])) {
        const said = (x: unknown) => (x === undefined ? 'none' : JSON.stringify(x));
        throw new RunError(`Cannot resume ${out}: it was started with ${k} ${said(old[k])}, not ${said(c[k])}`);
      }
    }
    if (fs.existsSync(ckpt)) resumeFrom = (await readCheckpointMeta(ckpt)).trainer?.iteration ?? 0;
  }
  // metrics.jsonl keeps only what the checkpoint knows (lines logged after it were lost with the process, and a
  // start at the checkpoint's iteration kept none of its work).
  const kept = readMetrics(out).filter((m) => Number(m.iteration) < resumeFrom || (Number(m.iteration) === resumeFrom && m.kind !== 'start'));
  writeAtomic(path.join(out, 'metrics.jsonl'), kept.map((m) => JSON.stringify(m) + '\n').join(''));
  writeAtomic(cfgFile, JSON.stringify({ ...c, data: o.data, version: PACKAGE_VERSION,
    libtorch: info().libtorch.version, started: new Date().toISOString(), resumedFrom: resumeFrom || undefined }, null, 2) + '\n');
  fs.rmSync(path.join(out, 'final.json'), { force: true });
  return resumeFrom;
}

