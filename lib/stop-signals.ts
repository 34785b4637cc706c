// SIGTERM and SIGINT ask the process to stop cleanly; a second signal, or 4.8 s, ends it at once.
const HARD_STOP_MS = 4800;

/** Calls `stop` on the first SIGTERM/SIGINT; returns a function that removes the handlers. */
export function onStopSignals(stop: () => void, hardStop: (code: number) => void = (code) => process.exit(code)): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return hardStop(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    // The clean path must fit in supervisord's/systemd's stop wait; this guard keeps the promise of 5 s.
    setTimeout(() => hardStop(0), HARD_STOP_MS).unref();
    stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
