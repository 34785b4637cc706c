// The https:// writer against a local ingestion endpoint in Grafana's JSON format: delivery follows 2xx answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader, jsonPoint, retryAfterMs } from '../../../lib/graphite/https-writer.ts';
import { createGraphiteWriter, type GraphiteWriter } from '../../../lib/graphite/writer.ts';
import type { Logger } from '../../../lib/poller-kit/logger.ts';
import { GraphiteHttpIngest } from '../../helpers/graphite-http-ingest.ts';
import { makeTestCertificates, type TestCertificates } from '../../helpers/test-certificates.ts';

const USER = '123456';
const TOKEN = 'glc_testtoken_abcdef0123456789';

function recordingLog(): Logger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const log = {
    lines,
    debug: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'debug', message, ...(fields ? { fields } : {}) }),
    info: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
    child: () => log,
  };
  return log;
}

describe('jsonPoint, authorization and Retry-After', () => {
  it('turns plaintext lines into Grafana points, tags as key=value strings', () => {
    expect(jsonPoint('a.b 1.5 1700000000\n', 60)).toBe('{"name":"a.b","interval":60,"value":1.5,"time":1700000000}');
    expect(jsonPoint('a.b;dc=eu;host=web-1 -2e+21 1700000000\n', 10)).toBe(
      '{"name":"a.b","interval":10,"value":-2e+21,"time":1700000000,"tags":["dc=eu","host=web-1"]}',
    );
    expect(jsonPoint('no-value\n', 60)).toBe('');
    expect(jsonPoint('a.b NaN 1\n', 60)).toBe('');
  });

  it('sends Basic for a user and token, Bearer for GRAPHITE_AUTH or a token alone', () => {
    expect(authorizationHeader({ user: 'u', token: 't' })).toBe(`Basic ${Buffer.from('u:t').toString('base64')}`);
    expect(authorizationHeader({ auth: 'u:t' })).toBe('Bearer u:t');
    expect(authorizationHeader({ token: 't' })).toBe('Bearer t');
    expect(authorizationHeader({})).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date, bounded', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('99999')).toBe(600_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('HttpsGraphiteWriter against a local ingestion endpoint', () => {
  let certificates: TestCertificates;
  let ingest: GraphiteHttpIngest;
  let writer: GraphiteWriter | undefined;
  beforeAll(() => {
    certificates = makeTestCertificates();
  });
  afterEach(async () => {
    await writer?.close();
    await ingest?.close();
  });
  afterAll(() => {});

  async function start(options: { maxBodyBytes?: number; poison?: string } = {}, writerOptions: Record<string, unknown> = {}) {
    ingest = await GraphiteHttpIngest.start(certificates, { user: USER, token: TOKEN, ...options });
    const log = recordingLog();
    writer = createGraphiteWriter({
      url: ingest.url,
      tls: { ca: certificates.ca },
      http: { user: USER, token: TOKEN },
      intervalSeconds: 30,
      backoffMinMs: 20,
      backoffMaxMs: 200,
      log,
      ...writerOptions,
    });
    return { writer, log };
  }

  it('posts every point in the documented format and counts them acknowledged', async () => {
    const { writer } = await start();
    for (let i = 0; i < 100; i++) writer.write(`jobs.a.s${i % 3} ${i} ${1_700_000_000 + i * 30}\n`);
    writer.write('jobs.tagged;dc=eu 7 1700000000\n');
    expect(await writer.flush(10_000)).toBe(true);
    expect(ingest.points.size).toBe(101);
    expect(ingest.points.get('jobs.a.s1 1700000030')!.point).toEqual({ name: 'jobs.a.s1', interval: 30, value: 1, time: 1_700_000_030 });
    expect(ingest.points.get('jobs.tagged;dc=eu 1700000000')!.point.tags).toEqual(['dc=eu']);
    expect(writer.stats()).toMatchObject({ sent: 101, acked: 101, rejected: 0, dropped: 0, queued: 0 });
  });

  it('through 401, 429 with Retry-After, 500, a slow answer and a cut answer, every point is acknowledged, retries counted', async () => {
    const { writer, log } = await start({}, { batchPoints: 50, maxInFlight: 2, requestTimeoutMs: 5000 });
    ingest.faults.push(
      { kind: 'auth' },
      { kind: 'too-many', retryAfterSeconds: 1 },
      { kind: 'server-error' },
      { kind: 'slow', ms: 300 },
      { kind: 'cut' },
    );
    // At every answer, no sequence the writer reports handed off may lack an acknowledgement.
    const acknowledgedTimes = () => new Set([...ingest.points.values()].map((held) => held.point.time));
    let handedOffThrough = 0;
    const violations: number[] = [];
    const started = Date.now();
    for (let i = 1; i <= 400; i++) writer.write(`jobs.b.value ${i} ${1_700_000_000 + i}\n`);
    const waits = [100, 200, 300, 400].map((sequence) =>
      writer.whenDelivered(sequence).then(() => {
        handedOffThrough = sequence;
        const acked = acknowledgedTimes();
        for (let i = 1; i <= sequence; i++) if (!acked.has(1_700_000_000 + i)) violations.push(i);
      }),
    );
    await Promise.all(waits);
    expect(await writer.flush(20_000)).toBe(true);
    expect(handedOffThrough).toBe(400);
    expect(violations).toEqual([]);
    expect(ingest.points.size).toBe(400);
    // Retry-After: 1 was honoured: nothing finished sooner.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const stats = writer.stats() as ReturnType<GraphiteWriter['stats']> & { retries: number };
    expect(stats).toMatchObject({ sent: 400, acked: 400, rejected: 0, dropped: 0, lost: 0 });
    expect(stats.retries).toBe(4);
    expect(ingest.duplicates).toBe(50); // the cut answer's batch, taken then sent again
    // The auth failure is one ERROR line; no token in any line.
    expect(log.lines.filter((line) => line.level === 'error').map((line) => line.message)).toEqual([
      'graphite refused the credentials (GRAPHITE_USER/GRAPHITE_TOKEN or GRAPHITE_AUTH); retrying with backoff',
    ]);
    expect(JSON.stringify(log.lines)).not.toContain(TOKEN);
    expect(JSON.stringify(log.lines)).not.toContain(Buffer.from(`${USER}:${TOKEN}`).toString('base64'));
  });

  it('a 400 isolates the refused points by halving: only they are rejected, each distinct message logged once', async () => {
    const { writer, log } = await start({ poison: 'broken' }, { batchPoints: 64 });
    for (let i = 1; i <= 64; i++) writer.write(`${i === 40 || i === 41 ? 'jobs.broken' : 'jobs.ok'}.n${i} 1 ${1_700_000_000 + i}\n`);
    const handOff = writer.whenDelivered(64);
    expect(await writer.flush(10_000)).toBe(true);
    expect(await handOff).toEqual({ dropped: 2 });
    expect(ingest.points.size).toBe(62);
    expect(writer.stats()).toMatchObject({ acked: 62, rejected: 2, dropped: 2 });
    const refusals = log.lines.filter((line) => line.message.startsWith('graphite refused points'));
    expect(refusals.map((line) => [line.level, line.fields?.error, line.fields?.points]).sort()).toEqual([
      ['error', 'invalid metric name "jobs.broken.n40"', 1],
      ['error', 'invalid metric name "jobs.broken.n41"', 1],
    ]);
    // The halving itself is one WARN, however many halves it took.
    const warnings = log.lines.filter((line) => line.level === 'warn').map((line) => line.message);
    expect(warnings).toEqual(['graphite refused a batch; sending it again in halves']);
  });

  it('a 413 splits the batch and makes later batches smaller; nothing is lost', async () => {
    const { writer } = await start({ maxBodyBytes: 4000 }, { batchPoints: 500 });
    for (let i = 1; i <= 300; i++) writer.write(`jobs.c.value ${i} ${1_700_000_000 + i}\n`);
    expect(await writer.flush(10_000)).toBe(true);
    expect(ingest.points.size).toBe(300);
    expect(ingest.answers).toContain(413);
    expect(writer.stats()).toMatchObject({ acked: 300, rejected: 0 });
  });

  it('refuses a server whose certificate its CA did not sign, and never sends to it', async () => {
    const { writer, log } = await start({}, { tls: { ca: makeTestCertificates().ca } });
    writer.write('jobs.d.value 1 1700000000\n');
    expect(await writer.flush(600)).toBe(false);
    expect(ingest.requests).toBe(0);
    const warning = log.lines.find((line) => line.message === 'graphite did not take a batch; retrying with backoff');
    expect(String(warning?.fields?.error)).toMatch(/certificate/);
    expect(writer.stats()).toMatchObject({ acked: 0, queued: 0 });
    await writer.close();
    expect(writer.stats()).toMatchObject({ lost: 1, dropped: 1 });
  });
});
