// GitHub repository statistics (stars, forks, open issues, watchers, size; optionally daily views) from the REST API.
import { z } from 'zod';
import {
  blockedPortMessage,
  byteSize,
  ConfigError,
  DEFAULT_MAX_RESPONSE_BYTES,
  definePoller,
  duration,
  fanOut,
  fetchBlockedPort,
  formatDuration,
  type JobSchedule,
  PartialFailure,
  type PollPlan,
} from '../lib/poller-kit/index.ts';
import { dailyViews, repositoryValues } from './github/repository-metrics.ts';
import { GitHubApiError, GitHubRestApi, RateLimitError, type ApiSettings } from './github/rest-api.ts';

/** GitHub's documented primary limits per hour: without a token (per IP address), and with a user's token. */
export const UNAUTHENTICATED_LIMIT = 60;
export const TOKEN_LIMIT = 5000;

// GitHub's rules: an owner is letters, digits and single hyphens (at most 39); a repository name is letters,
// digits, ".", "-" and "_" (at most 100).
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export const githubOptions = z
  .strictObject({
    repositories: z
      .array(z.string().regex(REPOSITORY, 'expected "owner/name", for example "nodejs/node"'))
      .min(1, 'expected at least one repository')
      .refine((list) => new Set(list.map((r) => r.toLowerCase())).size === list.length, 'a repository is listed twice')
      .describe(
        'Repositories to read, as "owner/name". Each gives <prefix>.<owner>.<name>.{stars,forks,open_issues,watchers,size_kb}, ' +
          'with owner and name as written here.',
      ),
    token: z
      .string()
      .optional()
      .describe(
        'A personal access token (or GitHub App installation token), sent as "Authorization: Bearer". ' +
          'Write ${GITHUB_TOKEN} so it stays in the environment or .env. Without one GitHub allows 60 requests an hour per IP ' +
          'address and no private repositories; with one, 5000 an hour.',
      ),
    apiRoot: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .refine((url) => fetchBlockedPort(url) === undefined, { error: (issue) => blockedPortMessage(String(issue.input)) })
      .default('https://api.github.com')
      .describe("The REST API's root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server."),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected dot-separated nodes of letters, digits, "_" or "-"')
      .default('github')
      .describe('Path under which the repositories go: <prefix>.<owner>.<name>.stars.'),
    traffic: z
      .boolean()
      .default(false)
      .describe(
        'Also read the last 14 days of page views (<prefix>.<owner>.<name>.traffic.views and .unique_visitors, one point per day). ' +
          'Needs a token with push access to each repository, and costs one more request per repository and tick.',
      ),
    timeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(10)
      .describe('Seconds one request may take before the run counts as failed.'),
    maxResponseBytes: byteSize()
      .refine((bytes) => bytes > 0, 'expected more than 0 bytes')
      .default(DEFAULT_MAX_RESPONSE_BYTES)
      .describe(
        'The largest answer read, in bytes or with a unit ("512KiB", "16MiB"); past it the request fails and the rest is not read.',
      ),
  })
  // Known before any request: traffic is refused without a token, on every tick alike.
  .refine((options) => !options.traffic || !!options.token, {
    path: ['token'],
    message:
      'traffic: true needs a token with push access to the repositories: set GITHUB_TOKEN (token: ${GITHUB_TOKEN}), or set traffic: false',
  });

export type GitHubOptions = z.output<typeof githubOptions>;

/** A github poller with its own memory (ETags, rate-limit pauses): the runner makes one per job. It holds nothing to close. */
export function createGitHubPoller() {
  const api = new GitHubRestApi();

  return definePoller({
    name: 'github',
    summary: 'GitHub repository statistics: stars, forks, open issues, watchers, size; optionally daily page views',
    options: githubOptions,
    // Stars and forks move slowly, and every request counts against an hourly limit: every 5 minutes is
    // 12 requests an hour per repository, within the 60 GitHub allows without a token for up to 5 repositories.
    schedule: { interval: 300 },
    // No `history`: GET /repos/{owner}/{repo} tells only the present, so there is nothing to backfill.

    async poll(ctx) {
      const { options, window, sink } = ctx;
      const settings: ApiSettings = {
        apiRoot: options.apiRoot,
        token: options.token || undefined,
        timeout: options.timeout,
        maxResponseBytes: options.maxResponseBytes,
      };
      const prefix = options.prefix.split('.');

      // One request at a time: GitHub asks for serial requests to stay clear of its secondary limits. One
      // repository's failure does not cost the others their datapoints; the run still fails, so the runner
      // logs it in one line and counts it. A used-up limit stops the run: the next repository would only be
      // refused too.
      await fanOut(
        options.repositories,
        async (repository) => {
          const [owner, name] = repository.split('/') as [string, string];
          // Owner and name are data: each stays one path node ("next.js" becomes next_js, never two nodes).
          const base = [...prefix, owner, name];
          const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
          try {
            const values = repositoryValues(await api.get(ctx, settings, path));
            if (values.length === 0) throw new Error(`GET ${path} answered without any of the repository's counts`);
            for (const [leaf, value] of values) sink.emit([...base, leaf], value, window.end);

            if (options.traffic) {
              for (const day of dailyViews(await api.get(ctx, settings, `${path}/traffic/views?per=day`))) {
                sink.emit([...base, 'traffic', 'views'], day.views, day.timestamp);
                sink.emit([...base, 'traffic', 'unique_visitors'], day.uniqueVisitors, day.timestamp);
              }
            }
          } catch (error) {
            if (error instanceof RateLimitError || ctx.signal.aborted) throw error;
            // A missing, wrong or too weak token fails every request and every tick alike (and GitHub locks out
            // clients that keep sending a bad one): a configuration error, exit 78, no retries.
            throw credentialError(error, repository, settings) ?? explain(error as Error, repository, settings);
          }
        },
        // The errors name their repository: a single failure is thrown as it is, several as one line.
        { concurrency: 1, signal: ctx.signal, stats: ctx.stats, noun: 'repositories', isFatal: (error) => error instanceof RateLimitError },
      ).catch((error: unknown) => {
        throw error instanceof PartialFailure && error.failures.length === 1 ? error.failures[0]!.error : error;
      });
    },

    plan: (options, schedule) => planOf(options, schedule),
  });
}

export default createGitHubPoller;

/** What a tick costs against the hourly limit, for `bin/poll.ts github --plan`. */
export function planOf(options: GitHubOptions, schedule: JobSchedule): PollPlan {
  const perRepository = options.traffic ? 2 : 1;
  const perTick = options.repositories.length * perRepository;
  const perHour = Math.ceil((perTick * 3600) / schedule.interval);
  const limit = options.token ? TOKEN_LIMIT : UNAUTHENTICATED_LIMIT;
  const plan: PollPlan = {
    summary: [`${options.repositories.length} repositories, every ${formatDuration(schedule.interval)}`],
    requests: [
      {
        what: 'requests',
        perTick,
        perHour,
        note:
          `${perRepository} per repository, at most; ` +
          'answers "304 Not Modified" (nothing changed since the last tick of this process) do not count',
      },
    ],
    quota: [
      { what: 'requests', limit, used: perHour, per: 'hour', scope: options.token ? 'with a token' : 'without a token (per IP address)' },
    ],
  };
  if (perHour > limit) {
    const interval = Math.ceil((perTick * 3600) / limit);
    const fix = `${options.token ? '' : 'set a token, or '}raise interval to at least ${interval}s`;
    plan.warnings = [`over the limit: runs would fail once it is used up; ${fix}`];
  }
  return plan;
}

/**
 * A 401 (no token, or a wrong or expired one) or a 403 that is no rate limit (the token may not read this:
 * push access for traffic, a fine-grained token's permissions, SSO, an IP allow list) as a ConfigError naming
 * the option to change; undefined for any other error. Rate limits never get here (RateLimitError).
 */
export function credentialError(error: unknown, repository: string, settings: ApiSettings): ConfigError | undefined {
  if (!(error instanceof GitHubApiError) || (error.status !== 401 && error.status !== 403)) return undefined;
  const answer = `${repository}: ${error.message}`;
  if (error.status === 401) {
    const fix = settings.token
      ? 'the token is wrong or expired: set a valid one in GITHUB_TOKEN'
      : 'this needs a token: set GITHUB_TOKEN (token: ${GITHUB_TOKEN})';
    return new ConfigError(`${answer}; ${fix}`, { field: 'token' });
  }
  if (/push access/i.test(error.apiMessage)) {
    const fix = 'traffic needs a token with push access to every repository: use such a token in GITHUB_TOKEN, or set traffic: false';
    return new ConfigError(`${answer}; ${fix}`, { field: 'traffic' });
  }
  const fix = settings.token
    ? 'the token may not read it: give it access, or set another token in GITHUB_TOKEN'
    : 'set a token that may read it in GITHUB_TOKEN';
  return new ConfigError(`${answer}; ${fix}`, { field: 'token' });
}

/** Adds what the user can do about the usual answers to GitHub's own message. */
function explain(error: Error, repository: string, settings: ApiSettings): Error {
  if (!(error instanceof GitHubApiError)) return new Error(`${repository}: ${error.message}`, { cause: error });
  const hint =
    error.status === 404
      ? settings.token
        ? ' (no such repository, or the token cannot read it)'
        : ' (no such repository, or it is private: private repositories need a token)'
      : '';
  return new Error(`${repository}: ${error.message}${hint}`, { cause: error });
}
