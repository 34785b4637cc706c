// http-json against a real local HTTP server: leaves become paths, errors are errors, keys cannot inject.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import httpJson, { numericLeaves } from '../../pollers/http-json.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { TestHttpServer, type Handler } from '../helpers/http-server.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const window = { start: 1_700_000_000, end: 1_700_000_060 };
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start(() => {});
});
afterAll(() => server.close());

function options(extra: Record<string, unknown> = {}) {
  return httpJson.options.parse({ url: `${server.url}/status.json`, ...extra });
}

describe('http-json', () => {
  it('turns every finite numeric leaf into <prefix>.<path>, at the window end', async () => {
    server.respond(200, {
      db: { connections: 5, ok: true, name: 'main', lag: null },
      disks: [{ free: 3.5 }, { free: 7 }],
      'hits per s': -2,
    });
    const context = testContext({ options: options({ prefix: 'shop.api' }), window });
    await httpJson.poll(context);
    expect(context.sink.series()).toEqual({
      'shop.api.db.connections': [[window.end, 5]],
      'shop.api.db.ok': [[window.end, 1]],
      'shop.api.disks.0.free': [[window.end, 3.5]],
      'shop.api.disks.1.free': [[window.end, 7]],
      'shop.api.hits per s': [[window.end, -2]],
    });
    // Keys are passed as single nodes: the sink makes "hits per s" one node, never three.
    expect(context.sink.points.find((p) => p.path === 'shop.api.hits per s')!.nodes).toEqual(['shop', 'api', 'hits per s']);
    expect(context.stats.gauges['http.status']).toBe(200);
    expect(context.stats.gauges['http.duration_ms']).toBeGreaterThanOrEqual(0);
  });

  it('sends headers with ${ENV} already resolved by the config loader', async () => {
    server.respond(200, { a: 1 });
    await httpJson.poll(testContext({ options: options({ headers: { Authorization: 'Bearer s3cr3t' } }), window }));
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer s3cr3t');
  });

  it('a non-2xx answer is an error, with the status recorded', async () => {
    server.respond(503, { error: 'down' });
    const context = testContext({ options: options(), window });
    await expect(httpJson.poll(context)).rejects.toThrow(/answered 503/);
    expect(context.stats.gauges['http.status']).toBe(503);
    expect(context.sink.points).toHaveLength(0);
  });

  it('invalid JSON is an error', async () => {
    server.respond(200, '{"a": 1', 'application/json');
    await expect(httpJson.poll(testContext({ options: options(), window }))).rejects.toThrow(/did not answer valid JSON/);
  });

  it('gives up at the timeout', async () => {
    server.handler = () => {}; // never answers
    await expect(httpJson.poll(testContext({ options: options({ timeout: 0.2 }), window }))).rejects.toThrow(/timeout|aborted/i);
  });

  it('bounds the number of datapoints and the depth', async () => {
    server.respond(200, { list: Array.from({ length: 50 }, (_, i) => i) });
    const context = testContext({ options: options({ maxDatapoints: 10 }), window });
    await httpJson.poll(context);
    expect(context.sink.points).toHaveLength(10);
    expect(context.stats.counters['http.truncated']).toBe(40);
    expect([...numericLeaves({ a: { b: { c: 1 } }, d: 2 }, 2)]).toEqual([[['d'], 2]]);
  });

  it('never logs the query string of the URL', async () => {
    server.respond(500, {});
    await expect(httpJson.poll(testContext({ options: options({ url: `${server.url}/x?api_key=TOPSECRET` }), window }))).rejects.toThrow(
      /^(?!.*TOPSECRET)/,
    );
  });

  it('an answer past maxResponseBytes fails the run in one line naming the bound and the URL (without its query)', async () => {
    server.respondBytes(Infinity);
    const url = `${server.url}/status.json?key=TOPSECRET`;
    const context = testContext({ options: options({ url, maxResponseBytes: '64KiB' }), window });
    await expect(httpJson.poll(context)).rejects.toThrow(`answer larger than maxResponseBytes (64 KiB) from ${server.url}/status.json?…`);
    expect(context.sink.points).toHaveLength(0);
    expect(context.stats.gauges['http.status']).toBe(200);

    // The next tick reads a normal answer as usual.
    server.respond(200, { a: 1 });
    const next = testContext({ options: options({ maxResponseBytes: '64KiB' }), window });
    await httpJson.poll(next);
    expect(next.sink.series()).toEqual({ 'http_json.a': [[window.end, 1]] });
  });

  it('maxResponseBytes: 16 MiB by default, a number of bytes or a size with a unit', () => {
    expect(options().maxResponseBytes).toBe(16 * 2 ** 20);
    expect(options({ maxResponseBytes: 1000 }).maxResponseBytes).toBe(1000);
    expect(options({ maxResponseBytes: '2MiB' }).maxResponseBytes).toBe(2 * 2 ** 20);
    const zero = httpJson.options.safeParse({ url: server.url, maxResponseBytes: 0 });
    expect(zero.error?.issues[0]?.message).toBe('expected more than 0 bytes');
    expect(httpJson.options.safeParse({ url: server.url, maxResponseBytes: '16 megs' }).success).toBe(false);
  });

  it.each([6000, 6665, 6669, 25, 10080])('refuses a url on port %i, which fetch never connects to ("bad port")', (port) => {
    const issues = httpJson.options.safeParse({ url: `http://127.0.0.1:${port}/status.json` }).error?.issues;
    expect(issues?.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['url', `port ${port} is one fetch refuses to connect to ("bad port", the Fetch standard's port blocking): serve it on another port`],
    ]);
  });

  it('accepts ports fetch connects to, and the default ports', () => {
    const urls = ['http://127.0.0.1:6001/x', 'http://h:8080/x', 'https://h/x', 'http://h:80/x', 'https://h:443/x', 'http://h:65535/x'];
    for (const url of urls) {
      expect(httpJson.options.safeParse({ url }).success, url).toBe(true);
    }
  });
});

describe('http-json as a process', () => {
  it('a url on a bad port exits 78 at load with one line naming the file and the url field', async () => {
    const work = tempDir('http-json');
    const config = join(work, 'status.yaml');
    writeFileSync(config, 'url: http://127.0.0.1:6000/status.json\n');
    const result = await runCommand(['bin/poll.ts', 'http-json', '--once', '--config', config], { env: { SELF_METRICS: '0' } });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`${config}: url: port 6000 is one fetch refuses to connect to ("bad port"`);
  });

  it('an endless and a 200 MB answer: one error line each, memory stays bounded, and the next tick works', async () => {
    const api = await TestHttpServer.start(() => {});
    const url = `${api.url}/status.json`;
    const work = tempDir('http-json');
    const config = join(work, 'status.yaml');
    // Deadlines far beyond the test: only maxResponseBytes (default 16 MiB) can end these reads.
    writeFileSync(config, `url: ${url}\ninterval: 1\ntimeout: 120\nrunTimeout: 120\n`);
    let baselineKiB = 0;
    let requests = 0;
    let child: ReturnType<typeof spawn> | undefined;
    const handlerOf = (set: () => void): Handler => (set(), api.handler);
    const answers = [
      handlerOf(() => api.respondBytes(Infinity)),
      handlerOf(() => api.respondBytes(200 * 2 ** 20)), // no content-length: only counting while streaming catches it
      handlerOf(() => api.respond(200, { ok: 1 })),
    ];
    api.handler = (request, response) => {
      // The peak memory of the process before the first answer is its baseline.
      if (requests === 0) baselineKiB = peakKiB(child!.pid!);
      return answers[Math.min(requests++, answers.length - 1)]!(request, response);
    };
    child = spawn(process.execPath, ['--import', 'tsx', 'bin/poll.ts', 'http-json', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, SELF_METRICS: '0', LOG_LEVEL: 'info', GRAPHITE_URL: '', STATE_DIR: join(work, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    let peak = 0;
    try {
      await waitFor(() => /^http_json\.ok 1 \d+$/m.test(stdout), 90_000);
      peak = peakKiB(child.pid!);
    } finally {
      child.kill('SIGTERM');
      await api.close();
    }
    expect(await exited, stderr).toBe(0);
    const errors = stderr.split('\n').filter((line) => /ERROR/.test(line));
    expect(errors, stderr).toHaveLength(2);
    for (const line of errors) expect(line).toContain(`answer larger than maxResponseBytes (16 MiB) from ${url}`);
    // Generous for a 2-core CI host; reading either answer whole would take 200 MB or more.
    expect(baselineKiB).toBeGreaterThan(0);
    expect((peak - baselineKiB) / 1024, `peak ${peak} KiB, baseline ${baselineKiB} KiB`).toBeLessThan(200);
  }, 120_000);
});

/** The process's peak resident memory so far (VmHWM), in KiB. */
function peakKiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
