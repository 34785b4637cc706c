// Scale-out through Graphite's own tier: carbon-c-relay (consistent hashing) in front of two carbon-caches. Pollers
// write to the relay only; every datapoint lands in exactly one cache, the series spread over both, and two
// replicas of one job writing the same range at once leave one copy of each point with the right value. And what
// the README warns about: the relay rewrites non-ASCII bytes in paths (not in tags).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon, Relay, taggedWhisperName, type Point } from '../helpers/carbon.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait-for.ts';

const HOUR = 3600;
const SERIES = 40;

describeCarbon('carbon-c-relay in front of two carbon-caches', () => {
  let caches: Carbon[] = [];
  let relay: Relay;
  let work: string;

  beforeAll(async () => {
    // One 60 s archive: the backfilled hours and the live tick are read from the same archive.
    caches = await Promise.all([Carbon.start({ retentions: '60s:30d' }), Carbon.start({ retentions: '60s:30d' })]);
    relay = await Relay.start(caches);
    work = mkdtempSync(join(tmpdir(), 'gp-scale-'));
  });
  afterAll(async () => {
    await relay?.destroy();
    await Promise.all(caches.map((c) => c.destroy()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('every datapoint of two backfill replicas and a live job is in exactly one cache', async () => {
    const now = Math.floor(Date.now() / 1000);
    const from = Math.floor(now / HOUR) * HOUR - 8 * HOUR;
    const to = from + 6 * HOUR;
    const iso = (t: number) => new Date(t * 1000).toISOString();
    const config = join(work, 'history.yaml');
    writeFileSync(config, `series: ${SERIES}\nmaxWindow: 3600\n`);
    const env = (replica: string) => ({
      GRAPHITE_URL: relay.url,
      GRAPHITE_PREFIX: 'scale',
      POLLERS_PATH: join(ROOT, 'test/helpers/pollers'),
      STATE_DIR: join(work, `state-${replica}`),
    });

    // Two replicas of the same job (as on two poller hosts), and a live job, all at once.
    const backfill = (replica: string) =>
      runCommand(['bin/backfill.ts', 'history', '--from', iso(from), '--to', iso(to), '--config', config, '--concurrency', '3'], {
        env: env(replica),
      });
    const results = await Promise.all([backfill('a'), backfill('b'), runCommand(['bin/poll.ts', 'host', '--once'], { env: env('host') })]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);

    // Expected: every history point, and the live job's datapoints and self-metrics (names from what it reported).
    const expected = new Map<string, Point[]>();
    for (let s = 0; s < SERIES; s++) {
      expected.set(
        `scale.history.s${s}`,
        Array.from({ length: (to - from) / 60 }, (_, i): Point => [from + i * 60, historyValue(from + i * 60, s)]),
      );
    }
    const live = [
      'load.1m',
      'load.5m',
      'load.15m',
      'cpus',
      'memory.total_bytes',
      'memory.available_bytes',
      'memory.used_bytes',
      'memory.used_percent',
      'uptime_seconds',
    ];
    const host = hostname().split('.')[0];
    const liveNames = [...live.map((m) => `scale.host.${host}.${m}`), 'scale.pollers.host.datapoints', 'scale.pollers.host.duration_ms'];
    const expectedCount = [...expected.values()].reduce((n, points) => n + points.length, 0) + liveNames.length;

    // The relay forwards asynchronously: read both caches until every point has arrived (or time runs out).
    let dumps: Array<Map<string, Point[]>> = [];
    const count = () =>
      dumps.reduce(
        (n, dump) =>
          n + [...dump.entries()].filter(([name]) => expected.has(name) || liveNames.includes(name)).reduce((m, [, p]) => m + p.length, 0),
        0,
      );
    await waitFor(
      'every point in the caches',
      async () => {
        await Promise.all(caches.map((c) => c.flush()));
        dumps = await Promise.all(caches.map((c) => c.dump(from - HOUR, now + 120)));
        return count() >= expectedCount;
      },
      { intervalMs: 250 },
    ).catch(() => undefined); // the checks below say what is missing

    // Each datapoint in exactly one cache, with its value.
    for (const [name, points] of expected) {
      const holders = dumps.filter((dump) => (dump.get(name) ?? []).length > 0);
      expect(holders, `${name} is in ${holders.length} caches`).toHaveLength(1);
      expect(holders[0]!.get(name), name).toEqual(points);
    }
    for (const name of liveNames) {
      const holders = dumps.filter((dump) => (dump.get(name) ?? []).length > 0);
      expect(holders, `${name} is in ${holders.length} caches`).toHaveLength(1);
      expect(holders[0]!.get(name), name).toHaveLength(1);
    }
    // Nothing else arrived (no renamed copy of a series), and the hashing used both caches.
    for (const dump of dumps)
      for (const name of dump.keys())
        expect(expected.has(name) || name.startsWith('scale.host.') || name.startsWith('scale.pollers.host.'), name).toBe(true);
    const perCache = dumps.map((dump) => [...expected.keys()].filter((name) => dump.has(name)).length);
    expect(perCache[0]! + perCache[1]!).toBe(SERIES);
    expect(Math.min(...perCache)).toBeGreaterThanOrEqual(SERIES / 5);
    expect(relay.log()).not.toMatch(/drop/i);
  });

  it('what the README warns about: the relay turns non-ASCII path bytes into _, and passes tags unchanged', async () => {
    const api = await TestHttpServer.start((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ Zürich: 1, Zurich: 2 }));
    });
    try {
      const config = join(work, 'cities.yaml');
      writeFileSync(config, `url: ${api.url}/\nprefix: cities\n`);
      const result = await runCommand(['bin/poll.ts', 'http-json', '--once', '--config', config], {
        env: { GRAPHITE_URL: relay.url, STATE_DIR: join(work, 'state-cities'), SELF_METRICS: '0' },
      });
      expect(result.code, result.stderr).toBe(0);
      // Our own output keeps the letter (see --dry-run); through the relay it arrives as two underscores.
      const dry = await runCommand(['bin/poll.ts', 'http-json', '--once', '--dry-run', '--config', config]);
      expect(dry.stdout).toMatch(/^cities\.Zürich 1 \d+$/m);
    } finally {
      await api.close();
    }
    const now = Math.floor(Date.now() / 1000);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(relay.port, '127.0.0.1', () => socket.end(`cities.tagged;city=Zürich 3 ${now}\n`, () => resolve()));
      socket.on('error', reject);
    });
    const names = async () => {
      await Promise.all(caches.map((c) => c.flush()));
      return (await Promise.all(caches.map((c) => c.list()))).flat().filter((n) => n.startsWith('cities.') || n.startsWith('_tagged.'));
    };
    const tagged = taggedWhisperName('cities.tagged;city=Zürich');
    let stored: string[] = [];
    await waitFor('three series stored', async () => (stored = await names()).length >= 3, { intervalMs: 250 }).catch(() => undefined);
    expect(stored.sort()).toEqual(['cities.Z__rich', 'cities.Zurich', tagged].sort());
  });
});
