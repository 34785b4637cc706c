// bin/poll.ts github against the GitHub fake into a real carbon-cache: counts, daily views and the rate-limit
// self-metric land in whisper; a long-running job keeps writing on 304s; a used-up limit fails --once in one line.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { GitHubFake } from '../helpers/github-fake.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';

const TOKEN = 'ghp_integration_token_0123456789abcdef';
const DAY = 86400;

describeCarbon('bin/poll.ts github into a real carbon-cache', () => {
  let carbon: Carbon;
  let fake: GitHubFake;
  let work: string;
  const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
  const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  beforeAll(async () => {
    carbon = await Carbon.start();
    fake = await GitHubFake.start();
    fake.addToken(TOKEN);
    work = mkdtempSync(join(tmpdir(), 'gp-github-'));
  });
  afterAll(async () => {
    await fake?.close();
    await carbon?.destroy();
  });

  const env = (prefix: string) => ({
    GRAPHITE_URL: carbon.url,
    STATE_DIR: join(work, `state-${prefix}`),
    GRAPHITE_PREFIX: prefix,
    GITHUB_TOKEN: TOKEN,
  });

  it('--once: the counts, the daily views and the rate limit land in whisper', async () => {
    fake.addRepository('nodejs/node', {
      stargazers_count: 110_000,
      forks_count: 30_000,
      open_issues_count: 2_100,
      subscribers_count: 2_900,
      size: 950_000,
      pushers: [TOKEN],
    });
    fake.addRepository('vercel/next.js', {
      stargazers_count: 130_000,
      forks_count: 28_000,
      pushers: [TOKEN],
      views: [
        { timestamp: iso(today - 2 * DAY), count: 440, uniques: 143 },
        { timestamp: iso(today - DAY), count: 380, uniques: 120 },
        { timestamp: iso(today), count: 35, uniques: 20 },
      ],
    });
    const config = join(work, 'repos.yaml');
    writeFileSync(
      config,
      `repositories: [nodejs/node, vercel/next.js]\ntoken: \${GITHUB_TOKEN}\napiRoot: ${fake.apiRoot}\ntraffic: true\n`,
    );
    const before = Math.floor(Date.now() / 1000);
    const result = await runCommand(['bin/poll.ts', 'github', '--once', '--config', config], { env: env('once') });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain(TOKEN);
    await carbon.flush();

    const stars = await carbon.fetch('once.github.nodejs.node.stars', before - 600);
    expect(stars).toHaveLength(1);
    const [tick] = stars[0]!;
    expect(stars).toEqual([[tick, 110_000]]);
    expect(await carbon.fetch('once.github.nodejs.node.watchers', before - 600)).toEqual([[tick, 2_900]]);
    // "next.js" is one node: next_js.
    expect(await carbon.fetch('once.github.vercel.next_js.forks', before - 600)).toEqual([[tick, 28_000]]);
    expect(await carbon.fetch('once.github.vercel.next_js.traffic.views', today - 3 * DAY)).toEqual([
      [today - 2 * DAY, 440],
      [today - DAY, 380],
      [today, 35],
    ]);
    expect(await carbon.fetch('once.github.vercel.next_js.traffic.unique_visitors', today - 3 * DAY)).toEqual([
      [today - 2 * DAY, 143],
      [today - DAY, 120],
      [today, 20],
    ]);
    // Two repositories, two requests each.
    expect(await carbon.fetch('once.pollers.repos.rate_limit.remaining', before - 600)).toEqual([[tick, 4996]]);
    expect(await carbon.fetch('once.pollers.repos.api_calls', before - 600)).toEqual([[tick, 4]]);
  });

  it('a long-running job sends If-None-Match: 304s cost nothing and still write every tick', async () => {
    fake.addRepository('acme/tool', { stargazers_count: 7 });
    const config = join(work, 'live.yaml');
    writeFileSync(config, `repositories: [acme/tool]\ntoken: \${GITHUB_TOKEN}\napiRoot: ${fake.apiRoot}\ninterval: 1\n`);
    const remainingBefore = fake.rateLimit(TOKEN).remaining;
    const statusesBefore = fake.statuses.length;
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/poll.ts', 'github', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, ...env('live'), SELF_METRICS: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await carbon.wait('live.github.acme.tool.stars', 3);
      fake.update('acme/tool', { stargazers_count: 8 });
      await waitFor(async () => (await carbon.fetch('live.github.acme.tool.stars')).some(([, v]) => v === 8), 15_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
    await carbon.flush();

    const points = await carbon.fetch('live.github.acme.tool.stars');
    const statuses = fake.statuses.slice(statusesBefore);
    const fresh = statuses.filter((s) => s === 200).length;
    // One 200 at the start and one after the change; every other tick was a free 304 written all the same.
    expect(fresh).toBe(2);
    expect(statuses.filter((s) => s === 304).length).toBeGreaterThanOrEqual(2);
    expect(fake.rateLimit(TOKEN).remaining).toBe(remainingBefore - fresh);
    expect(points.length).toBeGreaterThanOrEqual(statuses.length - 1);
    const values = points.map(([, v]) => v);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values)).toEqual(new Set([7, 8]));
  });

  it('a used-up rate limit fails --once in one line naming the reset time, after one request', async () => {
    const reset = Math.floor(Date.now() / 1000) + 1234;
    fake.setRateLimit(undefined, { remaining: 0, reset });
    const config = join(work, 'anonymous.yaml');
    writeFileSync(config, `repositories: [nodejs/node]\napiRoot: ${fake.apiRoot}\n`);
    const requestsBefore = fake.requests.length;
    const before = Math.floor(Date.now() / 1000);
    const result = await runCommand(['bin/poll.ts', 'github', '--once', '--config', config], {
      env: { ...env('limited'), GITHUB_TOKEN: '' },
    });
    expect(result.code).toBe(1);
    expect(fake.requests.length - requestsBefore).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => /ERROR/.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      `GitHub's rate limit is used up: 0 of 60 core requests left (unauthenticated: a token gets 5000 an hour); it resets at ${iso(reset)}`,
    );
    await carbon.flush();
    expect((await carbon.fetch('limited.pollers.anonymous.rate_limit.remaining', before - 600)).map(([, v]) => v)).toEqual([0]);
    expect((await carbon.fetch('limited.pollers.anonymous.errors', before - 600)).map(([, v]) => v)).toEqual([1]);
    expect(await carbon.fetch('limited.github.nodejs.node.stars', before - 600)).toEqual([]);
  });
});

describe('bin/poll.ts github with a token GitHub refuses', () => {
  let fake: GitHubFake;
  let work: string;
  beforeAll(async () => {
    fake = await GitHubFake.start();
    fake.addToken(TOKEN);
    fake.addRepository('nodejs/node', { stargazers_count: 1 });
    fake.addRepository('acme/site', { stargazers_count: 2 });
    work = mkdtempSync(join(tmpdir(), 'gp-github-token-'));
  });
  afterAll(() => fake?.close());

  // A long-running job (no --once), ticking every second: it must stop at the first refusal, not retry each tick.
  it.each([
    [
      'a wrong token',
      'ghp_wrong_token',
      'traffic: false',
      'token: nodejs/node: GET /repos/nodejs/node answered 401: Bad credentials; the token is wrong or expired: ' +
        'set a valid one in GITHUB_TOKEN',
    ],
    [
      'a token without push access',
      TOKEN,
      'traffic: true',
      'traffic: nodejs/node: GET /repos/nodejs/node/traffic/views?per=day answered 403: Must have push access to repository; ' +
        'traffic needs a token with push access to every repository',
    ],
  ])('%s: exit 78 at the first answer, one line naming the field and GITHUB_TOKEN, no retries', async (_, token, traffic, expected) => {
    const config = join(work, `job-${traffic.replace(/\W/g, '')}.yaml`);
    const yaml = `repositories: [nodejs/node, acme/site]\ntoken: \${GITHUB_TOKEN}\napiRoot: ${fake.apiRoot}\n${traffic}\ninterval: 1\n`;
    writeFileSync(config, yaml);
    const before = fake.requests.length;
    const result = await runCommand(['bin/poll.ts', 'github', '--config', config], {
      env: { GITHUB_TOKEN: token, GRAPHITE_URL: '', SELF_METRICS: '0', STATE_DIR: join(work, 'state') },
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(78);
    const errors = result.stderr.split('\n').filter((line) => /ERROR/.test(line));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toContain(`${config}: ${expected}`);
    expect(result.stderr).not.toContain(token);
    // One request (two with traffic: the repository, then its views), then nothing more.
    expect(fake.requests.length - before).toBe(traffic === 'traffic: true' ? 2 : 1);
  });

  it('traffic: true without a token is refused at load: exit 78 naming token, no request', async () => {
    const config = join(work, 'no-token.yaml');
    writeFileSync(config, `repositories: [nodejs/node]\ntoken: \${GITHUB_TOKEN:-}\napiRoot: ${fake.apiRoot}\ntraffic: true\n`);
    const before = fake.requests.length;
    const env = { GITHUB_TOKEN: '', GRAPHITE_URL: '', SELF_METRICS: '0' };
    const result = await runCommand(['bin/poll.ts', 'github', '--once', '--config', config], { env });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`${config}: token: traffic: true needs a token with push access to the repositories: set GITHUB_TOKEN`);
    expect(fake.requests.length).toBe(before);
  });
});

describe('bin/backfill.ts github', () => {
  it('refuses: the source has no history (exit 78, one line)', async () => {
    const result = await runCommand(['bin/backfill.ts', 'github', '--from', '-7d', '--config', 'config/github.example.yaml']);
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(
      'command line: the github poller has no history (its source only tells the present), so it cannot be backfilled',
    );
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
