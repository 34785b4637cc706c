// Which AWS errors a retry may heal, and how long to wait before it: the backoff runs on the run's clock, not the SDK's timers.
import { backoffDelay } from '../../lib/poller-kit/index.ts';

// Error names the SDK gives throttling answers (CloudWatch's JSON protocol answers `Throttling` in the
// x-amzn-query-error header and `ThrottlingException` in the body's __type).
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
]);
// What the SDK's own retry strategy counts as transient besides 5xx: timeouts and connections lost or refused.
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

/** The SDK's delays: throttles back off from 1 s, other failures from 50 ms, never more than 20 s. */
const THROTTLE_BASE_MS = 1000;
const ERROR_BASE_MS = 50;
const MAX_DELAY_MS = 20_000;

interface AwsError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean };
  $retryable?: { throttling?: boolean };
}

export function isThrottle(error: unknown): boolean {
  const e = error as AwsError | undefined;
  return THROTTLING.has(e?.name ?? '') || e?.$metadata?.httpStatusCode === 429 || e?.$retryable?.throttling === true;
}

/** Throttles, 5xx, timeouts, lost connections, a request the SDK re-signed for clock skew: what the SDK retried too. */
export function isRetryable(error: unknown): boolean {
  const e = error as AwsError | undefined;
  if (e?.name === 'AbortError') return false;
  if (isThrottle(error) || e?.$retryable !== undefined || e?.$metadata?.clockSkewCorrected === true) return true;
  if ((e?.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return TRANSIENT_NAMES.has(e?.name ?? '') || TRANSIENT_CODES.has(e?.code ?? '');
}

/** The wait before retry number `retry` (from 0) after `error`: full jitter, so many callers do not retry in lockstep. */
export function retryDelay(error: unknown, retry: number, random: () => number = Math.random): number {
  return backoffDelay(retry, isThrottle(error) ? THROTTLE_BASE_MS : ERROR_BASE_MS, MAX_DELAY_MS, random);
}
