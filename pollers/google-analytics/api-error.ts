// Failed Data API calls sorted into what to do about them: wait for quota, retry, or report with GA's own words.

/** Which exhausted quota a 429 names; each returns at its own time. */
export type QuotaBucket = 'day' | 'hour' | 'projectHour' | 'concurrent' | 'clientErrors' | 'serverErrors' | 'thresholded';

export type Ga4ErrorKind =
  | 'quota' // 429 RESOURCE_EXHAUSTED: wait for the quota window
  | 'server' // 5xx: retry with bounded backoff
  | 'network' // no answer (reset, refused, DNS): retry like a 5xx
  | 'unauthenticated' // 401: the token is wrong or expired
  | 'permission' // 403: the credentials cannot read the property
  | 'invalid' // 400: a report asks for something GA does not have
  | 'aborted' // the run's deadline or shutdown
  | 'other';

export class Ga4ApiError extends Error {
  override readonly name = 'Ga4ApiError';
  readonly kind: Ga4ErrorKind;
  readonly httpStatus?: number;
  /** GA's status name, e.g. RESOURCE_EXHAUSTED. */
  readonly apiStatus?: string;
  readonly quotaBucket?: QuotaBucket;

  constructor(message: string, kind: Ga4ErrorKind, httpStatus?: number, apiStatus?: string, quotaBucket?: QuotaBucket) {
    super(message);
    this.kind = kind;
    this.httpStatus = httpStatus;
    this.apiStatus = apiStatus;
    this.quotaBucket = quotaBucket;
  }

  get retryable(): boolean {
    return this.kind === 'server' || this.kind === 'network';
  }
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string } | string;
}

interface ErrorLike {
  name?: string;
  code?: string | number;
  status?: number;
  message?: string;
  response?: { status?: number; data?: unknown };
  config?: unknown;
  cause?: unknown;
}

/** Turns whatever the client threw (a GaxiosError, an AbortError, a TypeError from fetch) into a Ga4ApiError. */
export function classifyError(error: unknown, what: string): Ga4ApiError {
  if (error instanceof Ga4ApiError) return error;
  const e = (error ?? {}) as ErrorLike;
  const status = e.response?.status ?? e.status;
  const body = (e.response?.data ?? undefined) as GoogleErrorBody | string | undefined;
  const apiError = typeof body === 'object' && body && typeof body.error === 'object' ? body.error : undefined;
  const apiMessage = apiError?.message ?? (typeof body === 'string' && body.length < 500 ? body : undefined) ?? e.message ?? String(error);
  const apiStatus = apiError?.status;
  const text = `${what}: ${status ? `HTTP ${status}${apiStatus ? ` ${apiStatus}` : ''}: ` : ''}${oneLine(apiMessage)}`;

  if (e.name === 'AbortError' || e.code === 'AbortError' || (e.cause as ErrorLike | undefined)?.name === 'AbortError') {
    return new Ga4ApiError(`${what}: aborted (the run's deadline passed or the process is stopping)`, 'aborted');
  }
  if (status === undefined) {
    // The client's own errors carry the request (`config`): without an answer, the connection failed. Anything
    // else (an answer of the wrong shape) would fail the same way again.
    if (e.config !== undefined) return new Ga4ApiError(`${what}: no answer from GA: ${oneLine(apiMessage)}${rootCause(e)}`, 'network');
    return new Ga4ApiError(`${what}: ${oneLine(apiMessage)}`, 'other');
  }
  if (status === 429 || apiStatus === 'RESOURCE_EXHAUSTED')
    return new Ga4ApiError(text, 'quota', status, apiStatus, quotaBucketOf(apiMessage));
  if (status >= 500) return new Ga4ApiError(text, 'server', status, apiStatus);
  if (status === 401)
    return new Ga4ApiError(`${text} (an access token from gcloud expires after an hour)`, 'unauthenticated', status, apiStatus);
  if (status === 403) return new Ga4ApiError(text, 'permission', status, apiStatus);
  if (status === 400) return new Ga4ApiError(text, 'invalid', status, apiStatus);
  return new Ga4ApiError(text, 'other', status, apiStatus);
}

/**
 * GA names the exhausted quota only in its message, e.g. "Exhausted property tokens per day. These quota tokens
 * will return in under 24 hours." or "Exhausted property tokens for a project per hour. …". Unknown wording counts
 * as an hourly quota: the common case, and the cheaper mistake.
 */
export function quotaBucketOf(message: string): QuotaBucket {
  const m = message.toLowerCase();
  if (m.includes('concurrent')) return 'concurrent';
  if (m.includes('client errors')) return 'clientErrors';
  if (m.includes('server errors')) return 'serverErrors';
  if (m.includes('thresholded')) return 'thresholded';
  if (m.includes('per day') || m.includes('24 hours')) return 'day';
  if (m.includes('project')) return 'projectHour';
  return 'hour';
}

/** Native fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is at the end of its cause chain. */
function rootCause(error: ErrorLike): string {
  let deepest: ErrorLike | undefined;
  for (
    let cause = error.cause as ErrorLike | undefined, depth = 0;
    cause && typeof cause === 'object' && depth < 5;
    cause = cause.cause as ErrorLike | undefined, depth++
  )
    deepest = cause;
  if (!deepest?.message || (error.message ?? '').includes(deepest.message)) return '';
  return ` (${typeof deepest.code === 'string' ? `${deepest.code}: ` : ''}${oneLine(deepest.message)})`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
