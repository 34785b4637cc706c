// A fake of GitHub's REST API (repositories and traffic views) on a local port: real shapes, rate-limit and ETag headers,
// real error bodies.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TestHttpServer } from './http-server.ts';

/** What GET /repos/{owner}/{repo} counts, as GitHub names the fields. */
export interface RepositoryCounts {
  stargazers_count: number;
  forks_count: number;
  open_issues_count: number;
  subscribers_count: number;
  size: number;
}

export interface DailyViewsRecord {
  timestamp: string;
  count: number;
  uniques: number;
}

export interface FakeRepositoryOptions extends Partial<RepositoryCounts> {
  private?: boolean;
  /** Tokens that can read the repository when it is private (any valid token reads a public one). */
  readers?: string[];
  /** Tokens with push access: only they may read traffic. */
  pushers?: string[];
  /** Days of GET …/traffic/views?per=day, oldest first. */
  views?: DailyViewsRecord[];
  /** Tokens not yet authorized for the owner's SAML single sign-on: GitHub answers them 403 on the repository. */
  samlEnforced?: string[];
}

interface FakeRepository extends RepositoryCounts {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  readers: string[];
  pushers: string[];
  views: DailyViewsRecord[];
  samlEnforced: string[];
}

interface RateWindow {
  limit: number;
  used: number;
  /** Epoch seconds at which `used` goes back to 0. */
  reset: number;
}

const DOCS = 'https://docs.github.com/rest';
const VERSIONS = new Set(['2022-11-28']);

/**
 * GitHub's documented behaviour, as far as these endpoints go:
 * - every answer carries `x-ratelimit-{limit,remaining,used,reset,resource}`; 60 requests an hour without a
 *   token (per client), 5000 with one; every request counts, errors too, except an answer 304;
 * - a used-up limit answers 403 with `x-ratelimit-remaining: 0` and GitHub's message; a secondary limit
 *   (switched on by a test) answers 403 with `retry-after`;
 * - `etag` on every 200, and `If-None-Match` with the current ETag answers 304 with no body;
 * - errors are `{"message", "documentation_url", "status"}`: 404 "Not Found" for unknown and for unreadable
 *   private repositories, 401 "Bad credentials", 403 "Must have push access to repository" for traffic,
 *   403 "Resource protected by organization SAML enforcement…" (with `x-github-sso`) for a token not authorized
 *   for the organization's single sign-on;
 * - owner and name are case-insensitive; the answer spells them as the repository does.
 */
export class GitHubFake {
  private readonly repositories = new Map<string, FakeRepository>();
  private readonly tokens = new Map<string, string>(); // token → login
  private readonly windows = new Map<string, RateWindow>();
  private secondary: { status: 403 | 429; retryAfter?: number } | undefined;
  private inFlight = 0;
  private nextId = 1_000;
  /** Highest number of requests answered at the same time (GitHub asks for serial requests). */
  maxConcurrent = 0;
  /** Status of every answer, in order. */
  readonly statuses: number[] = [];

  private readonly server: TestHttpServer;
  private readonly basePath: string;
  private readonly now: () => number;

  private constructor(server: TestHttpServer, basePath: string, now: () => number) {
    this.server = server;
    this.basePath = basePath;
    this.now = now;
  }

  /** `basePath` "/api/v3" serves like GitHub Enterprise Server; `now` (epoch ms) drives the rate-limit windows. */
  static async start(options: { basePath?: string; now?: () => number } = {}): Promise<GitHubFake> {
    const holder: { fake?: GitHubFake } = {};
    const server = await TestHttpServer.start((request, response) => holder.fake!.handle(request, response));
    holder.fake = new GitHubFake(server, options.basePath ?? '', options.now ?? Date.now);
    return holder.fake;
  }

  /** What to configure as `apiRoot`. */
  get apiRoot(): string {
    return this.server.url + this.basePath;
  }

  get requests(): TestHttpServer['requests'] {
    return this.server.requests;
  }

  addToken(token: string, login = 'octocat'): void {
    this.tokens.set(token, login);
  }

  addRepository(fullName: string, options: FakeRepositoryOptions = {}): void {
    const [owner, name] = fullName.split('/') as [string, string];
    this.repositories.set(fullName.toLowerCase(), {
      id: this.nextId++,
      owner,
      name,
      private: options.private ?? false,
      readers: options.readers ?? [],
      pushers: options.pushers ?? [],
      views: options.views ?? [],
      samlEnforced: options.samlEnforced ?? [],
      stargazers_count: options.stargazers_count ?? 0,
      forks_count: options.forks_count ?? 0,
      open_issues_count: options.open_issues_count ?? 0,
      subscribers_count: options.subscribers_count ?? 0,
      size: options.size ?? 0,
    });
  }

  /** Changes counts (someone starred it): the ETag changes with them. */
  update(fullName: string, changes: Partial<RepositoryCounts> & { views?: DailyViewsRecord[] }): void {
    const repository = this.repositories.get(fullName.toLowerCase());
    if (!repository) throw new Error(`no repository ${fullName} in the fake`);
    Object.assign(repository, changes);
  }

  /** Sets the rate-limit window of a token (or of unauthenticated clients with `undefined`). */
  setRateLimit(token: string | undefined, window: { limit?: number; remaining?: number; reset?: number }): void {
    const current = this.window(token);
    if (window.limit !== undefined) current.limit = window.limit;
    if (window.remaining !== undefined) current.used = current.limit - window.remaining;
    if (window.reset !== undefined) current.reset = window.reset;
  }

  rateLimit(token?: string): { limit: number; remaining: number; used: number; reset: number } {
    const w = this.window(token);
    return { limit: w.limit, remaining: Math.max(0, w.limit - w.used), used: w.used, reset: w.reset };
  }

  /** The next requests answer a secondary rate limit until `clearSecondaryLimit`. */
  secondaryLimit(options: { status?: 403 | 429; retryAfter?: number } = {}): void {
    this.secondary = { status: options.status ?? 403, ...(options.retryAfter !== undefined ? { retryAfter: options.retryAfter } : {}) };
  }

  clearSecondaryLimit(): void {
    this.secondary = undefined;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private window(token: string | undefined): RateWindow {
    const key = token && this.tokens.has(token) ? `token:${token}` : 'anonymous';
    const nowSeconds = Math.floor(this.now() / 1000);
    let window = this.windows.get(key);
    if (!window || nowSeconds >= window.reset) {
      window = { limit: window?.limit ?? (key === 'anonymous' ? 60 : 5000), used: 0, reset: nowSeconds + 3600 };
      this.windows.set(key, window);
    }
    return window;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.inFlight);
    try {
      // Let concurrent requests overlap, as they would on a real network.
      await new Promise((resolve) => setImmediate(resolve));
      const answer = this.answer(request);
      this.statuses.push(answer.status);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body === undefined ? undefined : JSON.stringify(answer.body, null, 2));
    } finally {
      this.inFlight--;
    }
  }

  private answer(request: IncomingMessage): { status: number; headers: Record<string, string>; body?: unknown } {
    const url = new URL(request.url ?? '/', 'http://fake');
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const json = (status: number, body: unknown, extra: Record<string, string> = {}) => ({
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-github-api-version-selected': '2022-11-28', ...extra },
      body,
    });
    const error = (status: number, message: string, documentation = DOCS, extra: Record<string, string> = {}) =>
      json(status, { message, documentation_url: documentation, status: String(status) }, extra);

    if (!header('user-agent')) {
      return {
        status: 403,
        headers: { 'content-type': 'text/plain' },
        body: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
      };
    }

    // Authentication first: a bad token is refused before anything else, and counts for the client's address.
    const authorization = header('authorization');
    const token = authorization?.match(/^(?:Bearer|token) (.+)$/i)?.[1];
    if (authorization !== undefined && (token === undefined || !this.tokens.has(token))) {
      const anonymous = this.window(undefined);
      anonymous.used++;
      return error(401, 'Bad credentials', DOCS, rateHeaders(anonymous));
    }
    const window = this.window(token);
    if (window.used >= window.limit) {
      return error(
        403,
        token
          ? `API rate limit exceeded for user ID ${[...this.tokens.keys()].indexOf(token) + 1}.`
          : "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. " +
              'Check out the documentation for more details.)',
        'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        rateHeaders(window),
      );
    }
    if (this.secondary) {
      window.used++;
      return error(
        this.secondary.status,
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. ' +
          'If you reach out to GitHub Support for help, please include the request ID.',
        'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
        {
          ...rateHeaders(window),
          ...(this.secondary.retryAfter !== undefined ? { 'retry-after': String(this.secondary.retryAfter) } : {}),
        },
      );
    }
    const version = header('x-github-api-version');
    if (version !== undefined && !VERSIONS.has(version)) {
      window.used++;
      return error(400, `API version ${version} is not supported.`, DOCS, rateHeaders(window));
    }

    const path = url.pathname.startsWith(this.basePath) ? url.pathname.slice(this.basePath.length) : undefined;
    const match = request.method === 'GET' ? path?.match(/^\/repos\/([^/]+)\/([^/]+)(\/traffic\/views)?\/?$/) : null;
    const repository = match
      ? this.repositories.get(`${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`.toLowerCase())
      : undefined;
    const readable = repository && (!repository.private || (token !== undefined && repository.readers.includes(token)));
    if (!match || !repository || !readable) {
      window.used++;
      const documentation = match?.[3]
        ? 'https://docs.github.com/rest/metrics/traffic#get-page-views'
        : 'https://docs.github.com/rest/repos/repos#get-a-repository';
      return error(404, 'Not Found', documentation, rateHeaders(window));
    }

    if (token !== undefined && repository.samlEnforced.includes(token)) {
      window.used++;
      const sso = `required; url=https://github.com/orgs/${repository.owner}/sso?authorization_request=A1`;
      return error(
        403,
        'Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.',
        'https://docs.github.com/articles/authenticating-to-a-github-organization-with-saml-single-sign-on/',
        { ...rateHeaders(window), 'x-github-sso': sso },
      );
    }

    let body: unknown;
    if (match[3]) {
      if (token === undefined) {
        window.used++;
        return error(401, 'Requires authentication', 'https://docs.github.com/rest/metrics/traffic#get-page-views', rateHeaders(window));
      }
      if (!repository.pushers.includes(token)) {
        window.used++;
        return error(
          403,
          'Must have push access to repository',
          'https://docs.github.com/rest/metrics/traffic#get-page-views',
          rateHeaders(window),
        );
      }
      const per = url.searchParams.get('per') ?? 'day';
      if (per !== 'day' && per !== 'week') {
        window.used++;
        return error(422, `Invalid request.\n\n${JSON.stringify(per)} is not a member of ["day", "week"].`, DOCS, rateHeaders(window));
      }
      const views = per === 'day' ? repository.views : weekly(repository.views);
      body = {
        count: views.reduce((sum, v) => sum + v.count, 0),
        uniques: Math.max(0, ...views.map((v) => v.uniques)),
        views,
      };
    } else {
      body = repositoryJson(repository, this.server.url + this.basePath);
    }

    // The ETag depends on the body and on who asks (GitHub sends "Vary: Accept, Authorization, Cookie").
    const etag = `W/"${createHash('sha256')
      .update(JSON.stringify(body))
      .update(token ?? '')
      .digest('hex')
      .slice(0, 40)}"`;
    const ifNoneMatch = header('if-none-match');
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag.replace(/^W\//, ''))) {
      // Conditional requests answered 304 do not count against the rate limit.
      return { status: 304, headers: { etag, vary: 'Accept, Authorization, Cookie', ...rateHeaders(window) } };
    }
    window.used++;
    return json(200, body, {
      etag,
      vary: 'Accept, Authorization, Cookie',
      'cache-control': token ? 'private, max-age=60, s-maxage=60' : 'public, max-age=60, s-maxage=60',
      ...rateHeaders(window),
    });
  }
}

function rateHeaders(window: RateWindow): Record<string, string> {
  return {
    'x-ratelimit-limit': String(window.limit),
    'x-ratelimit-remaining': String(Math.max(0, window.limit - window.used)),
    'x-ratelimit-used': String(Math.min(window.used, window.limit)),
    'x-ratelimit-reset': String(window.reset),
    'x-ratelimit-resource': 'core',
  };
}

/** A repository object with the fields GitHub sends (a representative subset, same names and types). */
function repositoryJson(repository: FakeRepository, apiRoot: string): Record<string, unknown> {
  const fullName = `${repository.owner}/${repository.name}`;
  return {
    id: repository.id,
    node_id: Buffer.from(`010:Repository${repository.id}`).toString('base64'),
    name: repository.name,
    full_name: fullName,
    private: repository.private,
    owner: {
      login: repository.owner,
      id: repository.id + 1,
      type: 'Organization',
      url: `${apiRoot}/users/${repository.owner}`,
      site_admin: false,
    },
    html_url: `https://github.com/${fullName}`,
    description: `The ${repository.name} repository`,
    fork: false,
    url: `${apiRoot}/repos/${fullName}`,
    created_at: '2019-04-01T09:00:00Z',
    updated_at: '2026-04-20T10:00:00Z',
    pushed_at: '2026-04-20T09:59:00Z',
    homepage: null,
    size: repository.size,
    stargazers_count: repository.stargazers_count,
    watchers_count: repository.stargazers_count,
    language: 'TypeScript',
    has_issues: true,
    forks_count: repository.forks_count,
    archived: false,
    disabled: false,
    open_issues_count: repository.open_issues_count,
    license: { key: 'mit', name: 'MIT License', spdx_id: 'MIT' },
    topics: [],
    visibility: repository.private ? 'private' : 'public',
    forks: repository.forks_count,
    open_issues: repository.open_issues_count,
    watchers: repository.stargazers_count,
    default_branch: 'main',
    network_count: repository.forks_count,
    subscribers_count: repository.subscribers_count,
  };
}

/** `per=week`: days summed into weeks starting on Monday, as GitHub reports them. */
function weekly(days: DailyViewsRecord[]): DailyViewsRecord[] {
  const weeks = new Map<string, DailyViewsRecord>();
  for (const day of days) {
    const date = new Date(day.timestamp);
    date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7));
    const key = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const week = weeks.get(key) ?? { timestamp: key, count: 0, uniques: 0 };
    week.count += day.count;
    week.uniques = Math.max(week.uniques, day.uniques);
    weeks.set(key, week);
  }
  return [...weeks.values()];
}
