// "This signal or a timeout" with a timer that is held until it fires or is cleared, so it fires on every Node.
//
// Why not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 the combined signal holds its
// sources weakly and the timeout signal's own timer holds it weakly too, so once the garbage collector runs
// nothing keeps the timeout alive and it never fires (fixed in Node 22). Here the pending timer's callback
// holds the controller: Node keeps a pending timer (unref'd or not) until it fires or is cleared.

/** setTimeout fires after 1 ms when given more than 2^31-1 ms (~24.8 days): longer deadlines wait that long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Deadline extends Disposable {
  /** Aborts with the parent's reason when the parent aborts, or with a TimeoutError once `ms` have passed. */
  readonly signal: AbortSignal;
  /** Stops the timer and stops listening to the parent: call it when the work is done (or declare with `using`). */
  clear(): void;
}

/**
 * A signal that aborts when `parent` does or after `ms` milliseconds, whichever comes first. The timer does
 * not keep the process alive (unref), and `clear()` releases it and the listener on `parent` at once, so a
 * long-lived parent (a process's stop signal) does not collect one listener per request. `message` is the
 * TimeoutError's, the line the run logs: say what took too long.
 */
export function deadline(parent: AbortSignal | undefined, ms: number, message = `timeout: no result within ${formatMs(ms)}`): Deadline {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onParentAbort = () => finish(parent!.reason);
  const finish = (reason: unknown) => {
    clear();
    controller.abort(reason);
  };
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    parent?.removeEventListener('abort', onParentAbort);
  };

  if (parent?.aborted) {
    controller.abort(parent.reason);
  } else {
    const delay = Math.min(Math.max(0, ms), MAX_TIMER_MS);
    timer = setTimeout(() => finish(new DOMException(message, 'TimeoutError')), delay);
    timer.unref();
    parent?.addEventListener('abort', onParentAbort, { once: true });
  }
  return { signal: controller.signal, clear, [Symbol.dispose]: clear };
}

/** `10 s`, `1.5 s`, `200 ms`: for messages. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`;
}
