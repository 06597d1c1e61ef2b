// The package as a user gets it, for tests: `npm pack` of this repository, and a fresh project outside it to install
// the tarball into, with the environment of a user's shell.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './index';

export const run = promisify(execFile);
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
export const MINUTE = 60_000;

/** The environment of a user's shell: none of npm's script variables or this repository's switches, plus `extra`. */
export function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|RESNET_CIFAR_|INIT_CWD$|NODE_OPTIONS$)/i.test(k)) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface Packed { tarball: string; files: string[]; size: number; unpacked: number }

/** npm pack into dir (its prepack compiles dist/). */
export async function pack(dir: string): Promise<Packed> {
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as
    { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path), size: info.size, unpacked: info.unpackedSize };
}

/** A new project folder `dir` with its own package.json. */
export function freshProject(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  return dir;
}

/** npm install of `specs` in app (dependencies from npm's cache where it has them); rejects with npm's output. */
export async function npmInstall(app: string, specs: string[], env: NodeJS.ProcessEnv) {
  return run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', ...specs],
    { cwd: app, env, maxBuffer: 256 << 20, timeout: 30 * MINUTE });
}
