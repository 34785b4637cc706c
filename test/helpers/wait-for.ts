// Waiting on a condition in real time (a process, a socket, carbon) instead of sleeping a fixed time.

/** Generous on purpose: the deadline only bounds a failure, and a busy 2-core CI host may be 10× slower than a laptop. */
export const WAIT_MS = 60_000;

export interface WaitOptions {
  /** Give up after this long (default WAIT_MS). */
  timeoutMs?: number;
  /** Time between checks (default 100 ms). */
  intervalMs?: number;
  /** Appended to the timeout error: the state that explains why the condition never held. */
  detail?: () => string | Promise<string>;
}

/**
 * Checks `condition` until it returns something other than false, undefined or null and returns that, or throws
 * after `timeoutMs` naming `what`. A condition that throws is retried too (until the deadline, then the error
 * is the cause).
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, false | undefined | null>> {
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | undefined | null>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = options.detail ? `\n${await options.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** A fixed pause, only for checking that something does NOT happen within a while (there is no condition to wait on). */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
