// https:// through the real bin/poll.ts and bin/backfill.ts into a local ingestion endpoint in Grafana's JSON format
// that answers 401, 413, 429 with Retry-After, 500, slowly and with cut connections: every point acknowledged in the
// end, retries counted, and the watermark and backfill progress never ahead of the acknowledgements.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GraphiteHttpIngest } from '../helpers/graphite-http-ingest.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-certificates.ts';

const USER = '654321';
const TOKEN = 'glc_integrationtoken_0123456789abcdef';

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

describe('https:// through bin/poll.ts and bin/backfill.ts', () => {
  let certificates: TestCertificates;
  let ingest: GraphiteHttpIngest | undefined;
  beforeAll(() => {
    certificates = makeTestCertificates();
  });
  afterEach(async () => {
    await ingest?.close();
  });

  const env = (url: string, state: string, prefix: string) => ({
    GRAPHITE_URL: url,
    GRAPHITE_TLS_CA: certificates.caFile,
    GRAPHITE_USER: USER,
    GRAPHITE_TOKEN: TOKEN,
    GRAPHITE_PREFIX: prefix,
    STATE_DIR: state,
    POLLERS_PATH: join(ROOT, 'test/helpers/pollers'),
  });

  function noSecrets(output: string, state: string): void {
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(Buffer.from(`${USER}:${TOKEN}`).toString('base64'));
    for (const file of existsSync(state) ? readdirSync(state) : []) expect(readFileSync(join(state, file), 'utf8')).not.toContain(TOKEN);
  }

  it('bin/backfill.ts: through every bad answer, each point is acknowledged, and no window is recorded done before its acks', async () => {
    // 30 KB bodies: the default 5000-point batches are answered 413 and split.
    const endpoint = await GraphiteHttpIngest.start(certificates, { user: USER, token: TOKEN, maxBodyBytes: 30_000 });
    ingest = endpoint;
    endpoint.faults.push(
      { kind: 'auth' },
      { kind: 'too-many', retryAfterSeconds: 1 },
      { kind: 'server-error' },
      { kind: 'slow', ms: 400 },
      { kind: 'cut' },
    );
    const work = tempDir('https-backfill');
    const state = join(work, 'state');
    const config = join(work, 'filled.yaml');
    writeFileSync(config, 'series: 2\nmaxWindow: 3600\n');
    const DAY = 86400;
    const from = Math.floor(Date.now() / 1000 / DAY) * DAY - 2 * DAY;
    const ahead: string[] = [];
    endpoint.beforeAnswer = () => {
      const record = readJson<{ done: string[] }>(join(state, 'filled.backfill.json'));
      for (const key of record?.done ?? []) {
        const [start, end] = key.split('-').map(Number) as [number, number];
        for (let t = start; t < end; t += 60) {
          for (const s of [0, 1]) if (endpoint.value(`filled.history.s${s}`, t) === undefined) ahead.push(`${key}@${t}`);
        }
      }
    };
    const iso = (t: number) => new Date(t * 1000).toISOString();
    const range = ['--from', iso(from), '--to', iso(from + DAY / 2)];
    const result = await runCommand(['bin/backfill.ts', 'history', ...range, '--config', config, '--concurrency', '2'], {
      env: env(endpoint.url, state, 'filled'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(ahead.slice(0, 5)).toEqual([]);
    for (const s of [0, 1]) {
      for (let t = from; t < from + DAY / 2; t += 60) {
        expect(endpoint.value(`filled.history.s${s}`, t), `s${s}@${t}`).toBe(historyValue(t, s));
      }
    }
    expect(endpoint.points.size).toBe(1440);
    expect(endpoint.answers).toEqual(expect.arrayContaining([401, 413, 429, 500, 0, 200]));
    expect(result.stderr).toContain('graphite refused the credentials');
    noSecrets(result.stdout + result.stderr, state);
  }, 90_000);

  it('bin/poll.ts --once: the watermark moves only after the window is acknowledged; writer.acked is a self-metric', async () => {
    const endpoint = await GraphiteHttpIngest.start(certificates, { user: USER, token: TOKEN });
    ingest = endpoint;
    endpoint.faults.push({ kind: 'too-many', retryAfterSeconds: 1 }, { kind: 'cut' }, { kind: 'server-error' });
    const work = tempDir('https-poll');
    const state = join(work, 'state');
    const config = join(work, 'live.yaml');
    writeFileSync(config, 'series: 3\n');
    const ahead: number[] = [];
    endpoint.beforeAnswer = () => {
      const mark = readJson<{ deliveredUntil: number }>(join(state, 'live.watermark.json'))?.deliveredUntil;
      if (mark === undefined) return;
      for (let t = mark - 60; t < mark; t += 60) {
        for (const s of [0, 1, 2]) if (endpoint.value(`live.history.s${s}`, t) === undefined) ahead.push(t);
      }
    };
    const result = await runCommand(['bin/poll.ts', 'history', '--once', '--config', config], { env: env(endpoint.url, state, 'live') });
    expect(result.code, result.stderr).toBe(0);
    expect(ahead).toEqual([]);
    const mark = readJson<{ deliveredUntil: number }>(join(state, 'live.watermark.json'))!.deliveredUntil;
    for (const s of [0, 1, 2]) expect(endpoint.value(`live.history.s${s}`, mark - 60)).toBe(historyValue(mark - 60, s));
    const series = new Set([...endpoint.points.values()].map((held) => held.point.name));
    expect(series).toContain('live.pollers.live.writer.acked');
    expect(series).toContain('live.pollers.live.writer.rejected');
    expect(endpoint.answers.filter((status) => status !== 200).sort()).toEqual([0, 429, 500]);
    noSecrets(result.stdout + result.stderr, state);
  }, 60_000);
});
