// Graphite beyond the LAN: a live bin/poll.ts job over tls:// through a real TLS terminator (stunnel4) that is
// stopped and restarted, and over https:// to an ingestion endpoint that answers 429, 500 and cut connections for
// a while. Every point the job fetched must be in whisper, or acknowledged by the endpoint.
import { join } from 'node:path';
import { expect, it, type TestContext } from 'vitest';
import { describeCarbon } from '../helpers/carbon.ts';
import { GraphiteHttpIngest } from '../helpers/graphite-http-ingest.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { describeStunnel, Stunnel } from '../helpers/stunnel.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { makeTestCertificates } from '../helpers/test-certificates.ts';
import {
  choose,
  compareHistory,
  count,
  expectedPoints,
  historyConfig,
  PollerProcess,
  report,
  ROOT,
  sleep,
  startCarbon,
} from './harness.ts';

const SERIES = 3;
const OUTAGE_S = choose(4, 30);
const TIMEOUT = choose(90_000, 240_000);

function startJob(url: string, work: string, name: string, env: Record<string, string>): PollerProcess {
  const config = historyConfig(work, name, { series: SERIES });
  return PollerProcess.start(['bin/poll.ts', 'history', '--config', config], {
    GRAPHITE_URL: url,
    GRAPHITE_PREFIX: name,
    STATE_DIR: join(work, `state-${name}`),
    POLLERS_PATH: join(ROOT, 'test', 'helpers', 'pollers'),
    SELF_METRICS: '0',
    ...env,
  });
}

export function transportFaults(): void {
  describeCarbon('tls:// (real carbon-cache behind stunnel4)', () => {
    describeStunnel('terminator restarted', () => {
      const name = `the TLS terminator stopped for ${OUTAGE_S} s mid-run, then restarted: every point arrives`;
      it.concurrent(
        name,
        async ({ task }: TestContext) => {
          const certificates = makeTestCertificates();
          const carbon = await startCarbon();
          const tunnel = await Stunnel.start(carbon.port, certificates);
          const work = tempDir('rel-tls');
          try {
            const job = startJob(tunnel.url, work, 'overtls', { GRAPHITE_TLS_CA: certificates.caFile });
            await carbon.wait('overtls.history.s0', 3);
            await tunnel.stop();
            await sleep(OUTAGE_S * 1000);
            await tunnel.run();
            await job.waitFor(() => job.logs.some((l) => l.msg === 'reconnected to graphite'), 90_000, 'a reconnection through stunnel');
            await sleep(2500);
            const exit = await job.stop();
            expect(exit.code, job.tail()).toBe(0);
            const stopped = job.logs.find((l) => / stopped$/.test(l.msg))!;
            const result = await compareHistory(carbon, 'overtls', SERIES, expectedPoints(job.fetchedWindows, 1));
            report(
              {
                section: 'Graphite',
                fault: `tls:// terminator (stunnel4) stopped ${OUTAGE_S} s mid-run, then restarted`,
                injected:
                  `stunnel4 in front of carbon-cache killed (SIGTERM) while a job sends ${SERIES} points/s over tls://, ` +
                  `restarted after ${OUTAGE_S} s`,
                expected: count(result.expected),
                observed: `${count(result.found)} (dropped ${stopped.dropped})`,
              },
              task,
            );
            expect(result.missing).toEqual([]);
            expect(result.wrong).toBe(0);
          } finally {
            await tunnel.stop();
            await carbon.destroy();
          }
        },
        TIMEOUT,
      );
    });
  });

  const name = `https:// endpoint answering 429, 500 and cut connections for ${OUTAGE_S} s: every point acknowledged`;
  it.concurrent(
    name,
    async ({ task }: TestContext) => {
      const certificates = makeTestCertificates();
      const ingest = await GraphiteHttpIngest.start(certificates, { user: '1', token: 'reliability-token-0123' });
      const work = tempDir('rel-https');
      try {
        const credentials = { GRAPHITE_USER: '1', GRAPHITE_TOKEN: 'reliability-token-0123' };
        const job = startJob(ingest.url, work, 'overhttps', { GRAPHITE_TLS_CA: certificates.caFile, ...credentials });
        await job.waitFor(() => ingest.points.size >= SERIES * 2, 60_000, 'the first acknowledged points');
        // For the outage, every request gets a bad answer: 429 (Retry-After 1), 500 or a cut connection, in turn.
        const bad = [{ kind: 'too-many', retryAfterSeconds: 1 }, { kind: 'server-error' }, { kind: 'cut' }] as const;
        const outageEnds = Date.now() + OUTAGE_S * 1000;
        while (Date.now() < outageEnds) {
          if (ingest.faults.length < 2) ingest.faults.push(bad[ingest.requests % 3]!);
          await sleep(20);
        }
        ingest.faults.length = 0;
        await sleep(3000);
        const exit = await job.stop();
        expect(exit.code, job.tail()).toBe(0);
        const stopped = job.logs.find((l) => / stopped$/.test(l.msg))!;
        const expected = expectedPoints(job.fetchedWindows, 1);
        let found = 0;
        const missing: string[] = [];
        for (const t of expected) {
          for (let s = 0; s < SERIES; s++) {
            if (ingest.value(`overhttps.history.s${s}`, t) === historyValue(t, s)) found++;
            else missing.push(`s${s}@${t}`);
          }
        }
        const refused = ingest.answers.filter((status) => status !== 200).length;
        report(
          {
            section: 'Graphite',
            fault: `https:// endpoint answering 429, 500 and cut connections for ${OUTAGE_S} s`,
            injected:
              `a job sends ${SERIES} points/s as JSON batches; every request for ${OUTAGE_S} s gets 429 (Retry-After: 1), 500 ` +
              'or a connection cut mid-answer',
            expected: count(expected.size * SERIES),
            observed:
              `${count(found)} acknowledged (${refused} bad answers retried, ${ingest.duplicates} duplicates; ` +
              `dropped ${stopped.dropped})`,
          },
          task,
        );
        expect(missing).toEqual([]);
        expect(refused).toBeGreaterThan(0);
      } finally {
        await ingest.close();
      }
    },
    TIMEOUT,
  );
}
