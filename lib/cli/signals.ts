// Ctrl-C for long commands: the first stops after the current iteration (with a checkpoint), a second one leaves.

/** Ctrl-C (SIGINT, SIGTERM) as an AbortSignal; `quiet` (a data-parallel worker other than rank 0) says nothing. */
export function stopSignal(quiet = false): { signal: AbortSignal; dispose: () => void; stopped: () => boolean } {
  const ac = new AbortController();
  let first = 0;
  const onSig = () => {
    // A second Ctrl-C leaves now; one that follows the first within a second is the same Ctrl-C arriving twice (a
    // worker gets the terminal's and the launcher's forwarded signal).
    if (ac.signal.aborted) {
      if (Date.now() - first > 1000) process.exit(130);
      return;
    }
    first = Date.now();
    if (!quiet) process.stderr.write('\nstopping after the current iteration (a checkpoint is written; run again with --resume)\n');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    signal: ac.signal,
    stopped: () => ac.signal.aborted,
    dispose: () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}
export type StopSignal = ReturnType<typeof stopSignal>;
