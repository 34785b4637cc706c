// GET requests to GitHub's REST API within its rules: rate-limit headers obeyed, ETags reused, errors named.
import { createHash } from 'node:crypto';
import { deadline, formatMs, type GateClosure, type PollContext, readBoundedText, RequestGates } from '../../lib/poller-kit/index.ts';

/** The API version this poller was written against (GitHub keeps old versions for at least 24 months). */
export const API_VERSION = '2022-11-28';
const USER_AGENT = 'graphite-pollers';
/** GitHub's advice when a secondary limit answers without retry-after: wait at least a minute. */
const SECONDARY_WAIT_SECONDS = 60;

export interface ApiSettings {
  apiRoot: string;
  token?: string | undefined;
  /** Seconds one request may take. */
  timeout: number;
  /** The largest answer read (bytes): past it the request fails, whatever GitHub (or a proxy) sends. */
  maxResponseBytes: number;
}

type Context = Pick<PollContext<unknown>, 'fetch' | 'signal' | 'stats' | 'now' | 'job' | 'log'>;

/** A 4xx/5xx answer, with GitHub's own message (`{"message": …, "documentation_url": …}`). */
export class GitHubApiError extends Error {
  override readonly name = 'GitHubApiError';
  readonly status: number;
  readonly path: string;
  readonly apiMessage: string;

  constructor(status: number, path: string, apiMessage: string) {
    super(`GET ${path} answered ${status}: ${apiMessage}`);
    this.status = status;
    this.path = path;
    this.apiMessage = apiMessage;
  }
}

/** The rate limit is used up: no request is sent until `until` (epoch ms). */
export class RateLimitError extends Error {
  override readonly name = 'RateLimitError';
  readonly until: number;

  constructor(message: string, until: number) {
    super(message);
    this.until = until;
  }
}

interface Cached {
  etag: string;
  body: unknown;
}

/** `reset`: the primary limit's window ends at `until`; `wait`: GitHub asked for a pause. */
type BlockKind = 'reset' | 'wait';

interface Block {
  until: number;
  reason: string;
  kind: BlockKind;
}

/**
 * One per poller instance (so per process): remembers ETags and bodies for conditional requests, and when
 * the rate limit forbids asking again. Both live in memory only: a `--once` run from cron starts empty.
 */
export class GitHubRestApi {
  private readonly cache = new Map<string, Cached>();
  /** Per token (or IP address) and API root: closed while GitHub's limit forbids asking. */
  private readonly gates = new RequestGates<BlockKind>();

  /** GETs `path` (`/repos/o/r`) and returns its JSON; a 304 returns the body cached with that ETag. */
  async get(ctx: Context, settings: ApiSettings, path: string): Promise<unknown> {
    const limiter = limiterKey(settings);
    this.refuseWhileBlocked(ctx, limiter);

    const url = settings.apiRoot.replace(/\/+$/, '') + path;
    const cacheKey = `${ctx.job}\0${limiter}\0${url}`;
    const cached = this.cache.get(cacheKey);
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': API_VERSION,
      'user-agent': USER_AGENT,
    };
    if (settings.token) headers.authorization = `Bearer ${settings.token}`;
    if (cached) headers['if-none-match'] = cached.etag;

    const timeoutMs = settings.timeout * 1000;
    const request = deadline(ctx.signal, timeoutMs, `GET ${path}: no complete answer within the timeout (${formatMs(timeoutMs)})`);
    let response: Response;
    let limit: RateLimitHeaders;
    let text: string;
    try {
      response = await ctx.fetch(url, {
        headers,
        signal: request.signal,
        redirect: 'follow', // renamed and transferred repositories answer 301 to their new place
      });
      ctx.stats.count('api_calls');
      limit = readRateLimit(response.headers);
      if (limit.remaining !== undefined) ctx.stats.gauge('rate_limit.remaining', limit.remaining);
      if (limit.limit !== undefined) ctx.stats.gauge('rate_limit.limit', limit.limit);
      if (response.status === 304 && cached) {
        await response.body?.cancel();
        text = '';
      } else {
        text = await readBoundedText(response, settings.maxResponseBytes, `GET ${path}`);
      }
    } finally {
      request.clear();
    }

    if (response.status === 304 && cached) {
      ctx.stats.count('not_modified');
      this.noteExhausted(limiter, limit, settings);
      return cached.body;
    }
    if (response.status === 403 || response.status === 429) {
      const block = rateLimitBlock(response.status, limit, retryAfter(response.headers, ctx.now()), messageOf(text), ctx.now(), settings);
      if (block) {
        const closure = this.gates.for(limiter).closeUntil(block.until, block.reason, block.kind);
        ctx.stats.count('throttles');
        throw new RateLimitError(blockedText(closure, ctx.now()), closure.until);
      }
    }
    if (!response.ok) throw new GitHubApiError(response.status, path, messageOf(text) || response.statusText || 'no message');
    this.noteExhausted(limiter, limit, settings);

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new Error(`GET ${path} did not answer valid JSON: ${(error as Error).message}`);
    }
    const etag = response.headers.get('etag');
    if (etag) this.cache.set(cacheKey, { etag, body });
    return body;
  }

  private refuseWhileBlocked(ctx: Context, limiter: string): void {
    this.gates.for(limiter).assertOpen(ctx.now(), (closed) => {
      ctx.stats.count('requests_held_back');
      return new RateLimitError(blockedText(closed, ctx.now()), closed.until);
    });
  }

  /** A successful answer that used the last request: the next one would be refused, so do not send it. */
  private noteExhausted(limiter: string, limit: RateLimitHeaders, settings: ApiSettings): void {
    if (limit.remaining === 0 && limit.reset !== undefined) {
      this.gates.for(limiter).closeUntil(limit.reset * 1000, exhaustedText(limit, settings), 'reset');
    }
  }
}

export interface RateLimitHeaders {
  limit?: number;
  remaining?: number;
  /** Epoch seconds at which the window resets. */
  reset?: number;
  resource?: string;
}

/** `x-ratelimit-*` headers; GitHub Enterprise with rate limits off sends none. */
export function readRateLimit(headers: Headers): RateLimitHeaders {
  const number = (name: string) => {
    const raw = headers.get(name);
    const value = raw === null || raw.trim() === '' ? NaN : Number(raw);
    return Number.isFinite(value) ? value : undefined;
  };
  const out: RateLimitHeaders = {};
  const limit = number('x-ratelimit-limit');
  const remaining = number('x-ratelimit-remaining');
  const reset = number('x-ratelimit-reset');
  const resource = headers.get('x-ratelimit-resource');
  if (limit !== undefined) out.limit = limit;
  if (remaining !== undefined) out.remaining = remaining;
  if (reset !== undefined) out.reset = reset;
  if (resource) out.resource = resource;
  return out;
}

/** `retry-after` in seconds: GitHub sends a number; an HTTP date is accepted too. */
function retryAfter(headers: Headers, nowMs: number): number | undefined {
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - nowMs) / 1000)) : undefined;
}

/**
 * GitHub's documented rules for a 403/429: with `retry-after`, wait that long; with `x-ratelimit-remaining: 0`,
 * wait for `x-ratelimit-reset`; a "secondary rate limit" message without either, wait a minute. Any other
 * 403 (no push access, single sign-on, a token's permissions) is no rate limit: undefined (github.ts makes it a
 * configuration error).
 */
export function rateLimitBlock(
  status: number,
  limit: RateLimitHeaders,
  retryAfterSeconds: number | undefined,
  answer: string,
  nowMs: number,
  settings: ApiSettings,
): Block | undefined {
  const message = answer.replace(/\.$/, '');
  if (retryAfterSeconds !== undefined) {
    const until = nowMs + retryAfterSeconds * 1000;
    return {
      until,
      kind: 'wait',
      reason: `GitHub answered ${status} with retry-after ${retryAfterSeconds}s: ${message || 'secondary rate limit'}`,
    };
  }
  if (limit.remaining === 0 && limit.reset !== undefined) {
    return { until: limit.reset * 1000, kind: 'reset', reason: exhaustedText(limit, settings) };
  }
  if (/secondary rate limit/i.test(message)) {
    const until = nowMs + SECONDARY_WAIT_SECONDS * 1000;
    return { until, kind: 'wait', reason: `GitHub answered ${status}: ${message}` };
  }
  return undefined;
}

function exhaustedText(limit: RateLimitHeaders, settings: ApiSettings): string {
  const of = limit.limit !== undefined ? ` of ${limit.limit}` : '';
  const hint = settings.token ? '' : ' (unauthenticated: a token gets 5000 an hour)';
  return `GitHub's rate limit is used up: 0${of} ${limit.resource ?? 'core'} requests left${hint}`;
}

/** `<reason>; it resets at 2026-05-01T12:00:00Z (in 37 min), no requests until then`: the line the runner logs. */
function blockedText(block: GateClosure<BlockKind>, nowMs: number): string {
  const when = `${iso(block.until)} (in ${waitText(block.until - nowMs)})`;
  return block.detail === 'reset'
    ? `${block.reason}; it resets at ${when}, no requests until then`
    : `${block.reason}; no requests until ${when}`;
}

/** GitHub's error bodies are `{"message": "...", "documentation_url": "..."}`; anything else is shown cut short. */
function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body?.message === 'string') return body.message;
  } catch {
    // not JSON: a proxy's HTML page, for instance
  }
  return text.trim().slice(0, 200);
}

/** Rate limits count per token (or per IP address without one): the key never holds the token itself. */
function limiterKey(settings: ApiSettings): string {
  const who = settings.token ? createHash('sha256').update(settings.token).digest('hex').slice(0, 16) : 'anonymous';
  return `${settings.apiRoot} ${who}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function waitText(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} min` : `${seconds} s`;
}
