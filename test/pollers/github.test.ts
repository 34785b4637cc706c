// The github poller against the GitHub fake: paths, conditional requests, rate limits obeyed, errors named.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/poller-kit/config-error.ts';
import { formatPlan } from '../../lib/cli/plan-format.ts';
import { createGitHubPoller, githubOptions, planOf } from '../../pollers/github.ts';
import { dailyViews, repositoryValues } from '../../pollers/github/repository-metrics.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { GitHubFake } from '../helpers/github-fake.ts';

const T0 = 1_776_000_000; // epoch seconds, a multiple of 300
const window = { start: T0 - 300, end: T0 };
const TOKEN = 'ghp_fake_token_for_tests_0123456789';

let fake: GitHubFake;
let clock: number; // epoch ms, shared by the fake's rate-limit windows and the poller's context

beforeEach(async () => {
  clock = T0 * 1000;
  fake = await GitHubFake.start({ now: () => clock });
  fake.addToken(TOKEN);
  fake.addRepository('nodejs/node', {
    stargazers_count: 110_000,
    forks_count: 30_000,
    open_issues_count: 2_100,
    subscribers_count: 2_900,
    size: 950_000,
  });
  fake.addRepository('vercel/next.js', {
    stargazers_count: 130_000,
    forks_count: 28_000,
    open_issues_count: 3_000,
    subscribers_count: 1_500,
    size: 1_200_000,
  });
});
afterEach(() => fake.close());

function options(extra: Record<string, unknown> = {}) {
  return githubOptions.parse({ repositories: ['nodejs/node'], apiRoot: fake.apiRoot, ...extra });
}

function context(poller: ReturnType<typeof createGitHubPoller>, extra: Record<string, unknown> = {}, at = window) {
  return testContext({ options: options(extra), window: at, now: clock, schedule: { interval: 300, delay: 0, lookback: 0 } });
}

describe('github', () => {
  it('writes the five counts of each repository under <prefix>.<owner>.<name>, at the window end', async () => {
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['nodejs/node', 'vercel/next.js'], token: TOKEN });
    await poller.poll(ctx);
    expect(ctx.sink.series()).toEqual({
      'github.nodejs.node.stars': [[T0, 110_000]],
      'github.nodejs.node.forks': [[T0, 30_000]],
      'github.nodejs.node.open_issues': [[T0, 2_100]],
      'github.nodejs.node.watchers': [[T0, 2_900]],
      'github.nodejs.node.size_kb': [[T0, 950_000]],
      'github.vercel.next.js.stars': [[T0, 130_000]],
      'github.vercel.next.js.forks': [[T0, 28_000]],
      'github.vercel.next.js.open_issues': [[T0, 3_000]],
      'github.vercel.next.js.watchers': [[T0, 1_500]],
      'github.vercel.next.js.size_kb': [[T0, 1_200_000]],
    });
    // "next.js" is one node (the sink writes it as next_js), never two.
    expect(ctx.sink.points.find((p) => p.path === 'github.vercel.next.js.stars')!.nodes).toEqual(['github', 'vercel', 'next.js', 'stars']);
    const sent = fake.requests[0]!.headers;
    expect(sent.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.accept).toBe('application/vnd.github+json');
    expect(sent['x-github-api-version']).toBe('2022-11-28');
    expect(sent['user-agent']).toMatch(/graphite-pollers/);
    expect(ctx.stats.counters.api_calls).toBe(2);
    expect(ctx.stats.gauges['rate_limit.remaining']).toBe(4998);
    expect(ctx.stats.gauges['rate_limit.limit']).toBe(5000);
    // GitHub asks for one request at a time.
    expect(fake.maxConcurrent).toBe(1);
  });

  it('asks again with If-None-Match; a 304 costs nothing and its values are written again', async () => {
    const poller = createGitHubPoller();
    await poller.poll(context(poller, { token: TOKEN }));
    expect(fake.rateLimit(TOKEN).remaining).toBe(4999);

    const next = { start: T0, end: T0 + 300 };
    const second = context(poller, { token: TOKEN }, next);
    await poller.poll(second);
    expect(fake.requests[1]!.headers['if-none-match']).toMatch(/^W\/"/);
    expect(fake.statuses).toEqual([200, 304]);
    expect(fake.rateLimit(TOKEN).remaining).toBe(4999);
    expect(second.stats.counters.not_modified).toBe(1);
    expect(second.sink.series()['github.nodejs.node.stars']).toEqual([[T0 + 300, 110_000]]);
    expect(second.sink.points).toHaveLength(5);

    // Someone stars it: the ETag changes, the new count arrives.
    fake.update('nodejs/node', { stargazers_count: 110_001 });
    const third = context(poller, { token: TOKEN }, { start: T0 + 300, end: T0 + 600 });
    await poller.poll(third);
    expect(fake.statuses).toEqual([200, 304, 200]);
    expect(third.sink.series()['github.nodejs.node.stars']).toEqual([[T0 + 600, 110_001]]);
  });

  it('an unknown repository fails the run with a hint, after the others were written', async () => {
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['nodejs/nope', 'nodejs/node'] });
    await expect(poller.poll(ctx)).rejects.toThrow(
      'nodejs/nope: GET /repos/nodejs/nope answered 404: Not Found (no such repository, or it is private: ' +
        'private repositories need a token)',
    );
    expect(ctx.sink.paths()).toContain('github.nodejs.node.stars');
  });

  it("several failed repositories are one line naming each, counted in parts_failed (the kit's fan-out)", async () => {
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['nodejs/nope', 'nodejs/node', 'nodejs/gone'] });
    await expect(poller.poll(ctx)).rejects.toThrow(
      /^2 of 3 repositories failed: nodejs\/nope: GET .* answered 404: .*; nodejs\/gone: GET /,
    );
    expect(ctx.stats.counters.parts_failed).toBe(2);
    expect(ctx.sink.paths()).toContain('github.nodejs.node.stars');
  });

  it('a private repository needs a token that can read it', async () => {
    fake.addRepository('acme/secret', { private: true, readers: [TOKEN], stargazers_count: 3 });
    const poller = createGitHubPoller();
    await expect(poller.poll(context(poller, { repositories: ['acme/secret'] }))).rejects.toThrow(
      /404: Not Found .*private repositories need a token/,
    );
    const ctx = context(poller, { repositories: ['ACME/Secret'], token: TOKEN });
    await poller.poll(ctx);
    // Paths use the names as configured, whatever GitHub's spelling.
    expect(ctx.sink.series()['github.ACME.Secret.stars']).toEqual([[T0, 3]]);
  });

  it('a bad token is a configuration error (exit 78) at the first answer, naming token and GITHUB_TOKEN', async () => {
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['nodejs/node', 'vercel/next.js'], token: 'ghp_wrong' });
    const error = await poller.poll(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toBe(
      'token: nodejs/node: GET /repos/nodejs/node answered 401: Bad credentials; the token is wrong or expired: ' +
        'set a valid one in GITHUB_TOKEN',
    );
    expect((error as Error).message).not.toContain('ghp_wrong');
    expect(fake.requests).toHaveLength(1);
  });

  it('a 403 that is no rate limit (the token may not read the organization) is a configuration error', async () => {
    fake.addRepository('acme/sso', { stargazers_count: 1, samlEnforced: [TOKEN] });
    const poller = createGitHubPoller();
    const error = await poller.poll(context(poller, { repositories: ['acme/sso', 'nodejs/node'], token: TOKEN })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toBe(
      'token: acme/sso: GET /repos/acme/sso answered 403: Resource protected by organization SAML enforcement. ' +
        'You must grant your Personal Access token access to this organization.; the token may not read it: ' +
        'give it access, or set another token in GITHUB_TOKEN',
    );
    // Fail fast: the next repository is not asked, the run stops here.
    expect(fake.requests).toHaveLength(1);
  });

  it('a 403 rate limit stays a rate limit, not a configuration error', async () => {
    fake.setRateLimit(TOKEN, { remaining: 0, reset: T0 + 60 });
    const poller = createGitHubPoller();
    const error = await poller.poll(context(poller, { token: TOKEN })).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/rate limit is used up/);
  });

  it('a used-up rate limit fails the run naming the reset time, and no request is sent before it', async () => {
    const reset = T0 + 1800;
    fake.setRateLimit(undefined, { remaining: 0, reset });
    const poller = createGitHubPoller();
    const first = context(poller, { repositories: ['nodejs/node', 'vercel/next.js'] });
    await expect(poller.poll(first)).rejects.toThrow(
      "GitHub's rate limit is used up: 0 of 60 core requests left (unauthenticated: a token gets 5000 an hour); " +
        'it resets at 2026-04-12T13:50:00Z (in 30 min), no requests until then',
    );
    expect(new Date(reset * 1000).toISOString()).toBe('2026-04-12T13:50:00.000Z');
    expect(fake.requests).toHaveLength(1);
    expect(first.stats.gauges['rate_limit.remaining']).toBe(0);
    expect(first.stats.counters.throttles).toBe(1);

    // Ticks before the reset fail at once, without a request.
    clock = (T0 + 300) * 1000;
    await expect(poller.poll(context(poller, {}, { start: T0, end: T0 + 300 }))).rejects.toThrow(
      /it resets at 2026-04-12T13:50:00Z \(in 25 min\)/,
    );
    expect(fake.requests).toHaveLength(1);

    // After it, the poller asks again (the fake's window has reset too).
    clock = (reset + 1) * 1000;
    const later = context(poller, {}, { start: reset - 300, end: reset });
    await poller.poll(later);
    expect(fake.requests).toHaveLength(2);
    expect(later.sink.series()['github.nodejs.node.stars']).toEqual([[reset, 110_000]]);
  });

  it('stops asking within a run once an answer says nothing is left', async () => {
    fake.setRateLimit(TOKEN, { remaining: 1, reset: T0 + 600 });
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['nodejs/node', 'vercel/next.js'], token: TOKEN });
    await expect(poller.poll(ctx)).rejects.toThrow(/0 of 5000 core requests left; it resets at .* \(in 10 min\)/);
    expect(fake.requests).toHaveLength(1);
    expect(ctx.sink.paths()).toContain('github.nodejs.node.stars');
    expect(ctx.stats.counters.requests_held_back).toBe(1);
  });

  it('a secondary rate limit with retry-after pauses for that long', async () => {
    fake.secondaryLimit({ retryAfter: 90 });
    const poller = createGitHubPoller();
    await expect(poller.poll(context(poller, { token: TOKEN }))).rejects.toThrow(
      new RegExp(
        /GitHub answered 403 with retry-after 90s: You have exceeded a secondary rate limit.*request ID; /.source +
          /no requests until 2026-04-12T13:21:30Z \(in 90 s\)/.source,
      ),
    );
    fake.clearSecondaryLimit();
    clock += 60_000;
    await expect(poller.poll(context(poller, { token: TOKEN }))).rejects.toThrow(/in 30 s/);
    expect(fake.requests).toHaveLength(1);
    clock += 31_000;
    await poller.poll(context(poller, { token: TOKEN }));
    expect(fake.requests).toHaveLength(2);
  });

  it('a secondary rate limit without retry-after pauses a minute', async () => {
    fake.secondaryLimit({ status: 429 });
    const poller = createGitHubPoller();
    await expect(poller.poll(context(poller, { token: TOKEN }))).rejects.toThrow(
      /GitHub answered 429: You have exceeded a secondary rate limit.*\(in 60 s\)/,
    );
  });

  it('traffic: one point per day at the day, with push access; a clear error without', async () => {
    const days = [
      { timestamp: '2026-04-10T00:00:00Z', count: 440, uniques: 143 },
      { timestamp: '2026-04-11T00:00:00Z', count: 380, uniques: 120 },
    ];
    fake.addRepository('acme/site', { pushers: [TOKEN], views: days, stargazers_count: 7 });
    const poller = createGitHubPoller();
    const ctx = context(poller, { repositories: ['acme/site'], token: TOKEN, traffic: true });
    await poller.poll(ctx);
    const day = (iso: string) => Date.parse(iso) / 1000;
    expect(ctx.sink.series()['github.acme.site.traffic.views']).toEqual([
      [day('2026-04-10T00:00:00Z'), 440],
      [day('2026-04-11T00:00:00Z'), 380],
    ]);
    expect(ctx.sink.series()['github.acme.site.traffic.unique_visitors']).toEqual([
      [day('2026-04-10T00:00:00Z'), 143],
      [day('2026-04-11T00:00:00Z'), 120],
    ]);
    expect(fake.requests.map((r) => r.url)).toEqual(['/repos/acme/site', '/repos/acme/site/traffic/views?per=day']);

    // A token without push access: every tick would fail alike, so it is a configuration error naming traffic.
    const ctx2 = context(poller, { repositories: ['nodejs/node'], token: TOKEN, traffic: true });
    const refused = await poller.poll(ctx2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).describe()).toBe(
      'traffic: nodejs/node: GET /repos/nodejs/node/traffic/views?per=day answered 403: Must have push access to repository; ' +
        'traffic needs a token with push access to every repository: use such a token in GITHUB_TOKEN, or set traffic: false',
    );
  });

  it('traffic without a token is refused when the config loads, naming token and GITHUB_TOKEN', () => {
    for (const token of [undefined, '']) {
      const raw = { repositories: ['a/b'], traffic: true, ...(token === undefined ? {} : { token }) };
      const issues = githubOptions.safeParse(raw).error?.issues;
      expect(issues?.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
        [
          'token',
          'traffic: true needs a token with push access to the repositories: ' +
            'set GITHUB_TOKEN (token: ${GITHUB_TOKEN}), or set traffic: false',
        ],
      ]);
    }
    expect(githubOptions.safeParse({ repositories: ['a/b'], traffic: true, token: 't' }).success).toBe(true);
  });

  it('works under a GitHub Enterprise root (/api/v3), with or without a trailing slash', async () => {
    const enterprise = await GitHubFake.start({ basePath: '/api/v3', now: () => clock });
    try {
      enterprise.addRepository('platform/deploys', { forks_count: 2 });
      const poller = createGitHubPoller();
      for (const apiRoot of [enterprise.apiRoot, `${enterprise.apiRoot}/`]) {
        const ctx = context(poller, { repositories: ['platform/deploys'], apiRoot });
        await poller.poll(ctx);
        expect(ctx.sink.series()['github.platform.deploys.forks']).toEqual([[T0, 2]]);
      }
      expect(enterprise.requests.map((r) => r.url)).toEqual(['/api/v3/repos/platform/deploys', '/api/v3/repos/platform/deploys']);
    } finally {
      await enterprise.close();
    }
  });

  it('validates repositories and refuses duplicates', () => {
    expect(githubOptions.safeParse({ repositories: ['nodejs'] }).error?.issues[0]?.message).toBe(
      'expected "owner/name", for example "nodejs/node"',
    );
    expect(githubOptions.safeParse({ repositories: ['a/b/c'] }).success).toBe(false);
    expect(githubOptions.safeParse({ repositories: [] }).error?.issues[0]?.message).toBe('expected at least one repository');
    expect(githubOptions.safeParse({ repositories: ['a/b', 'A/B'] }).error?.issues[0]?.message).toBe('a repository is listed twice');
    expect(githubOptions.parse({ repositories: ['a/b'] })).toEqual({
      repositories: ['a/b'],
      apiRoot: 'https://api.github.com',
      prefix: 'github',
      traffic: false,
      timeout: 10,
      maxResponseBytes: 16 * 1024 * 1024,
    });
    expect(githubOptions.parse({ repositories: ['a/b'], maxResponseBytes: '512KiB' }).maxResponseBytes).toBe(512 * 1024);
    expect(githubOptions.safeParse({ repositories: ['a/b'], maxResponseBytes: 'lots' }).success).toBe(false);
    // fetch never connects to port 6000 ("bad port"): refused when the config loads, not on every tick.
    expect(githubOptions.safeParse({ repositories: ['a/b'], apiRoot: 'http://127.0.0.1:6000/api/v3' }).error?.issues[0]?.message).toMatch(
      /^port 6000 is one fetch refuses to connect to/,
    );
  });

  it('plan: requests per hour against the limit', () => {
    const many = githubOptions.parse({ repositories: ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6'] });
    expect(formatPlan(planOf(many, { interval: 300, delay: 0, lookback: 0 }))).toEqual([
      '6 repositories, every 5m',
      'requests: 6 requests per tick, 72 per hour (1 per repository, at most; ' +
        'answers "304 Not Modified" (nothing changed since the last tick of this process) do not count)',
      'quota: 72 of 60 requests per hour (120%), without a token (per IP address)',
      'warning: over the limit: runs would fail once it is used up; set a token, or raise interval to at least 360s',
    ]);
    const traffic = formatPlan(planOf({ ...many, token: 't', traffic: true }, { interval: 60, delay: 0, lookback: 0 }));
    expect(traffic).toHaveLength(3);
    expect(traffic[2]).toBe('quota: 720 of 5,000 requests per hour (14%), with a token');
  });
});

describe('github mapping', () => {
  it('takes the counts GitHub sends and skips missing or null ones', () => {
    expect(repositoryValues({ stargazers_count: 5, forks_count: null, open_issues_count: 2, watchers_count: 5, size: 10 })).toEqual([
      ['stars', 5],
      ['open_issues', 2],
      ['size_kb', 10],
    ]);
    expect(repositoryValues([])).toEqual([]);
    expect(repositoryValues('x')).toEqual([]);
  });

  it('reads daily views and skips malformed days', () => {
    expect(
      dailyViews({
        count: 3,
        uniques: 2,
        views: [{ timestamp: '2026-04-10T00:00:00Z', count: 3, uniques: 2 }, { timestamp: 'yesterday', count: 1, uniques: 1 }, null],
      }),
    ).toEqual([{ timestamp: 1_775_779_200, views: 3, uniqueVisitors: 2 }]);
    expect(dailyViews({})).toEqual([]);
  });
});
