// Child processes that run this CLI again (data-parallel workers, reproduce's workers), with Ctrl-C forwarded.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as os from 'node:os';

/**
 * Child processes running this CLI again (`args` after the script), and the stop signals this process receives
 * forwarded to every one still running; `dispose` stops forwarding.
 */
export function cliChildren() {
  const live = new Set<ChildProcess>();
  const forward = (sig: NodeJS.Signals) => () => { for (const c of live) c.kill(sig); };
  const onInt = forward('SIGINT'), onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    spawn: (args: string[], env: NodeJS.ProcessEnv, stdio: StdioOptions) => {
      const c = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { env, stdio });
      live.add(c);
      c.on('close', () => live.delete(c));
      return c;
    },
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** A child's exit as a code: its own, or 128 + the signal's number when a signal ended it. */
export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? (signal ? 128 + (os.constants.signals[signal] ?? 1) : 1);
}
