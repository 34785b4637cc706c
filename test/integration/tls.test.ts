// tls:// into a real carbon-cache behind a real TLS terminator (stunnel4) with a certificate made here: points reach
// whisper (through bin/backfill.ts and GRAPHITE_TLS_CA, with a Hosted Graphite-style key as the first node), a
// wrong CA is one clear line and nothing is sent, and a restart of the terminator loses nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGraphiteWriter } from '../../lib/graphite/writer.ts';
import { createLogger } from '../../lib/poller-kit/logger.ts';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { describeStunnel, Stunnel } from '../helpers/stunnel.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-certificates.ts';

// Hosted Graphite's plaintext form: the account's API key (a UUID) as the first node of every path.
const API_KEY = '4f1e2d3c-5b6a-4789-8abc-def012345678';

describeCarbon('tls:// into carbon behind stunnel4', () => {
  describeStunnel('with a certificate made by the test', () => {
    let carbon: Carbon;
    let tunnel: Stunnel;
    let certificates: TestCertificates;
    let work: string;
    beforeAll(async () => {
      certificates = makeTestCertificates();
      carbon = await Carbon.start();
      tunnel = await Stunnel.start(carbon.port, certificates);
      work = tempDir('tls');
    }, 60_000);
    afterAll(async () => {
      await tunnel?.stop();
      await carbon?.destroy();
    });

    it('bin/backfill.ts with GRAPHITE_TLS_CA: every point reaches whisper under the API-key prefix', async () => {
      const now = Math.floor(Date.now() / 1000);
      const from = Math.floor((now - 1800) / 60) * 60;
      const config = join(work, 'history.yaml');
      writeFileSync(config, 'series: 2\nmaxWindow: 600\n');
      const iso = (t: number) => new Date(t * 1000).toISOString();
      const result = await runCommand(['bin/backfill.ts', 'history', '--from', iso(from), '--to', iso(from + 1200), '--config', config], {
        env: {
          GRAPHITE_URL: tunnel.url.replace('127.0.0.1', 'localhost'),
          GRAPHITE_TLS_CA: certificates.caFile,
          GRAPHITE_PREFIX: API_KEY,
          STATE_DIR: join(work, 'state'),
          POLLERS_PATH: join(ROOT, 'test/helpers/pollers'),
        },
      });
      expect(result.code, result.stderr).toBe(0);
      await carbon.flush();
      for (const series of [0, 1]) {
        const points = await carbon.fetch(`${API_KEY}.history.s${series}`, from - 1, from + 1199);
        const expected = Array.from({ length: 20 }, (_, i) => [from + i * 60, historyValue(from + i * 60, series)]);
        expect(points.filter(([t]) => t % 60 === 0)).toEqual(expected);
      }
      expect(result.stderr).not.toMatch(/certificate/i);
    }, 60_000);

    it('a CA that did not sign the certificate: one clear ERROR line, retries, and nothing reaches carbon', async () => {
      const lines: string[] = [];
      const writer = createGraphiteWriter({
        url: tunnel.url,
        tls: { ca: makeTestCertificates().ca },
        backoffMinMs: 20,
        backoffMaxMs: 100,
        log: createLogger({ level: 'info', write: (line) => lines.push(line) }),
      });
      expect(await writer.connect()).toBe(false);
      writer.write('tls.wrongca.value 1 ' + Math.floor(Date.now() / 1000) + '\n');
      expect(await writer.flush(800)).toBe(false);
      await writer.close();
      const errors = lines.filter((line) => / ERROR /.test(line));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('graphite TLS certificate failed verification (check GRAPHITE_TLS_CA and the host name); retrying');
      expect(errors[0]).toMatch(
        /target=tls:\/\/127\.0\.0\.1:\d+ .*error="(unable to verify the first certificate|self[- ]signed certificate in certificate chain)/,
      );
      expect(errors[0]!.split('\n')).toHaveLength(1);
      expect(writer.stats()).toMatchObject({ sent: 0, lost: 1 });
      await carbon.flush();
      expect(await carbon.fetch('tls.wrongca.value')).toEqual([]);
    }, 30_000);

    it('a restart of the terminator mid-stream loses nothing (the replay re-sends what it held)', async () => {
      const writer = createGraphiteWriter({ url: tunnel.url, tls: { ca: certificates.ca }, backoffMinMs: 20, backoffMaxMs: 200 });
      const base = Math.floor(Date.now() / 1000) - 3000;
      const total = 600;
      let written = 0;
      const writeSome = (n: number) => {
        for (let i = 0; i < n && written < total; i++, written++) writer.write(`tls.restart.value ${written} ${base + written}\n`);
      };
      writeSome(200);
      expect(await writer.flush(10_000)).toBe(true);
      await tunnel.stop();
      writeSome(200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await tunnel.run();
      writeSome(200);
      expect(await writer.flush(20_000)).toBe(true);
      await writer.close();
      expect(writer.stats()).toMatchObject({ dropped: 0, lost: 0 });
      expect(writer.stats().reconnects).toBeGreaterThanOrEqual(1);
      await carbon.flush();
      const points = await carbon.fetch('tls.restart.value', base - 1, base + total);
      expect(points).toEqual(Array.from({ length: total }, (_, i) => [base + i, i]));
    }, 60_000);
  });
});
