// One query_range request: auth from the options, a deadline, a bounded read, the API's error as the message.
import { readBoundedJson, ConfigError, deadline, formatMs } from '../../lib/poller-kit/index.ts';
import type { PrometheusOptions } from './options.ts';
import { parseAnswer, PrometheusApiError, type QueryAnswer } from './response.ts';
import type { StepRange } from './steps.ts';

/** `{root}/api/v1/query_range`, keeping a path prefix (Mimir's /prometheus, a proxy's /thanos). */
export function queryRangeUrl(root: string): string {
  const url = new URL(root);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/query_range`;
  return url.toString();
}

/** The URL without query string or credentials, for log lines and errors. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '(url)';
  }
}

/** Request headers: JSON, the form body, the configured headers, then the one Authorization the options give. */
export function requestHeaders(options: PrometheusOptions): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
    ...options.headers,
  };
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
  if (options.basicAuth) {
    const { username, password } = options.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }
  return headers;
}

export interface RequestContext {
  fetch: typeof globalThis.fetch;
  signal: AbortSignal | undefined;
}

/**
 * POSTs one query_range (a form body: a long PromQL expression never meets a URL length limit) and returns
 * the parsed answer. The request, body included, must finish within `timeout`; the same timeout is sent as the
 * query's, so the server gives up too. 401 and 403 are the credentials' fault: a ConfigError (exit 78).
 */
export async function queryRange(
  context: RequestContext,
  options: PrometheusOptions,
  query: string,
  range: StepRange,
): Promise<QueryAnswer> {
  const url = queryRangeUrl(options.url);
  const where = redactUrl(url);
  const form = new URLSearchParams({
    query,
    start: String(range.start),
    end: String(range.end),
    step: String(range.step),
    // Seconds as a plain number: the API parses it as a float first, so 0.5 works where "0.5s" would not.
    timeout: String(options.timeout),
  });
  if (options.partialResponse !== undefined) form.set('partial_response', String(options.partialResponse));

  const timeoutMs = options.timeout * 1000;
  const request = deadline(context.signal, timeoutMs, `POST ${where}: no complete answer within the timeout (${formatMs(timeoutMs)})`);
  let status: number;
  let body: unknown;
  try {
    let response: Response;
    try {
      response = await context.fetch(url, { method: 'POST', headers: requestHeaders(options), body: form, signal: request.signal });
    } catch (error) {
      throw networkError(error, where, request.signal);
    }
    status = response.status;
    if (status === 401 || status === 403) {
      await response.body?.cancel().catch(() => {});
      throw credentialsError(status, options);
    }
    try {
      body = await readBoundedJson(response, options.maxResponseBytes, where);
    } catch (error) {
      if (request.signal.aborted) throw abortReason(request.signal, error);
      // A gateway's 502 page is no JSON: its status says more than the parse error.
      if (!response.ok) throw new Error(`POST ${where} answered ${status} ${response.statusText}`.trim(), { cause: error });
      throw error;
    }
  } finally {
    request.clear();
  }
  try {
    return parseAnswer(body, status);
  } catch (error) {
    if (error instanceof PrometheusApiError) throw error;
    throw new Error(`POST ${where} ${(error as Error).message}`, { cause: error });
  }
}

function credentialsError(status: number, options: PrometheusOptions): ConfigError {
  const field = options.basicAuth ? 'basicAuth' : 'bearerToken';
  const has = options.basicAuth ? 'the user name and password' : options.bearerToken ? 'the token' : undefined;
  const fix = has
    ? `the server refused ${has}: set valid ones (PROMETHEUS_TOKEN, or PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD)`
    : 'the server needs credentials: set bearerToken: ${PROMETHEUS_TOKEN} or basicAuth';
  return new ConfigError(`answered ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}; ${fix}`, { field });
}

/** fetch's "fetch failed" says nothing: name the cause (ECONNREFUSED, ENOTFOUND) or the deadline. */
function networkError(error: unknown, where: string, signal: AbortSignal): Error {
  if (signal.aborted) return abortReason(signal, error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new Error(`POST ${where} failed: ${detail}`, { cause: error });
}

function abortReason(signal: AbortSignal, fallback: unknown): Error {
  const reason = signal.reason as unknown;
  return reason instanceof Error ? reason : (fallback as Error);
}
