// bin/poll.ts and bin/backfill.ts google-analytics end to end: the Data API fake, the real googleapis client with a
// bearer token, a real carbon-cache, values read back from whisper at the right paths and timestamps.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { Ga4Fake, type RealtimeSeedRow, type SeedRow } from '../helpers/ga4-fake.ts';
import { runCommand } from '../helpers/run-command.ts';

const TOKEN = 'integration-token';
const PROPERTY = '424242';
const ZONE = 'America/New_York';
const utc = (iso: string) => Date.parse(iso) / 1000;

/** The property-local `dateHour` of an instant, straight from Intl (not from the poller's code). */
function localDateHour(epochSeconds: number): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
  }).formatToParts(new Date(epochSeconds * 1000));
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}${get('month')}${get('day')}${get('hour')}`;
}

describeCarbon('google-analytics into a real carbon-cache', () => {
  let carbon: Carbon;
  let fake: Ga4Fake;
  let work: string;
  const rows: SeedRow[] = [];
  const realtime: RealtimeSeedRow[] = [];
  const now = Math.floor(Date.now() / 1000);

  // Live data: the 36 complete hours before the current one; three minutes of realtime. When New York leaves
  // daylight saving time within them, its repeated local hour is one dateHour in GA (stamped at its first pass):
  // the second pass is left out, or on those days two seeded hours would read back as one point holding both.
  const currentHour = Math.floor(now / 3600) * 3600;
  const liveHours = Array.from({ length: 36 }, (_, i) => currentHour - (36 - i) * 3600).filter(
    (hour, i, all) => all.findIndex((h) => localDateHour(h) === localDateHour(hour)) === i,
  );
  liveHours.forEach((hour, i) =>
    rows.push({
      dateHour: localDateHour(hour),
      dimensions: { deviceCategory: 'desktop', pageTitle: 'Home. Page\nTwo' },
      metrics: { sessions: 100 + i },
    }),
  );
  const minute = Math.floor(now / 60) * 60;
  [1, 2, 3].forEach((ago) =>
    realtime.push({ minute: minute - ago * 60, dimensions: { country: 'Côte d’Ivoire' }, metrics: { activeUsers: 10 * ago } }),
  );

  // History: 1 and 2 November 2026, the day New York leaves daylight saving time (25 hours, one dateHour 01).
  // One day either side, which a backfill of exactly those two days must not write.
  for (const day of ['20261031', '20261101', '20261102', '20261103']) {
    for (let h = 0; h < 24; h++)
      rows.push({
        dateHour: `${day}${String(h).padStart(2, '0')}`,
        dimensions: { deviceCategory: h % 2 ? 'mobile' : 'desktop', pageTitle: 'Archive' },
        metrics: { sessions: Number(day.slice(6)) * 100 + h },
      });
  }

  beforeAll(async () => {
    carbon = await Carbon.start({ retentions: '1m:3d,1h:2y' });
    fake = await Ga4Fake.start({ tokens: [TOKEN] });
    fake.addProperty({ id: PROPERTY, timeZone: ZONE, rows, realtime });
    work = mkdtempSync(join(tmpdir(), 'gp-ga4-'));
  });
  afterAll(async () => {
    await fake?.close();
    await carbon?.destroy();
  });

  const env = (state: string) => ({
    GRAPHITE_URL: carbon.url,
    GA4_API_ROOT_URL: fake.url,
    GOOGLE_OAUTH_ACCESS_TOKEN: TOKEN,
    GOOGLE_APPLICATION_CREDENTIALS: '',
    STATE_DIR: join(work, state),
  });

  const config = (name: string) => {
    const file = join(work, `${name}.yaml`);
    writeFileSync(
      file,
      [
        `propertyId: ${PROPERTY}`,
        'realtime:',
        '  - metrics: [activeUsers]',
        '    dimensions: [country]',
        'reports:',
        '  - name: traffic',
        '    metrics: [sessions]',
        '    granularity: hour',
        '  - name: devices',
        '    metrics: [sessions]',
        '    dimensions: [deviceCategory]',
        '    granularity: day',
        '  - name: titles',
        '    metrics: [sessions]',
        '    dimensions: [pageTitle]',
        '    granularity: hour',
        '    path: site.{pageTitle}.{metric}',
        '',
      ].join('\n'),
    );
    return file;
  };

  it('--once delivers realtime minutes and the reports of the last 48 hours', async () => {
    const result = await runCommand(['bin/poll.ts', 'google-analytics', '--once', '--config', config('ga-live')], {
      env: env('state-live'),
    });
    expect(result.code, result.stderr).toBe(0);
    await carbon.flush();

    // Realtime: each minute at its own timestamp; the country keeps its letters, its apostrophe becomes _.
    expect(await carbon.fetch(`ga4.${PROPERTY}.realtime.Côte_d_Ivoire.activeUsers`, now - 3600)).toEqual([
      [minute - 180, 30],
      [minute - 120, 20],
      [minute - 60, 10],
    ]);
    // Hourly: every seeded hour of the last 36, at the start of the hour; the hours of the 48-hour lookback before
    // them had no row (GA leaves all-zero rows out) and are 0 (fill), not gaps.
    const traffic = await carbon.fetch(`ga4.${PROPERTY}.traffic.sessions`, currentHour - 40 * 3600);
    expect(traffic.filter(([t]) => t >= liveHours[0]!)).toEqual(liveHours.map((hour, i) => [hour, 100 + i]));
    const quiet = traffic.filter(([t]) => t < liveHours[0]!);
    expect(quiet.length).toBeGreaterThanOrEqual(3);
    expect(quiet.every(([, value]) => value === 0)).toBe(true);
    // A page title with a dot, a space and a newline stays one node.
    expect(await carbon.fetch('site.Home_Page_Two.sessions', currentHour - 40 * 3600)).toEqual(traffic);
    // Daily, at local midnight: the days the 36 hours touch, summed per day.
    const devices = await carbon.fetch(`ga4.${PROPERTY}.devices.desktop.sessions`, currentHour - 40 * 3600);
    const byDay = new Map<number, number>();
    liveHours.forEach((hour, i) => {
      const local = localDateHour(hour);
      const midnight = liveHours.find((h) => localDateHour(h).slice(0, 8) === local.slice(0, 8) && localDateHour(h).endsWith('00'));
      if (midnight !== undefined) byDay.set(midnight, (byDay.get(midnight) ?? 0) + 100 + i);
    });
    for (const [midnight, sum] of byDay) expect(devices).toContainEqual([midnight, sum]);

    // The quota GA reported, as self-metrics of the job.
    const remaining = await carbon.fetch('pollers.ga-live.quota.tokens_per_hour_remaining', now - 3600);
    expect(remaining.at(-1)![1]).toBeLessThan(40_000);
    expect(fake.calls('batchRunReports')).toHaveLength(1);
    expect(fake.calls('runRealtimeReport')).toHaveLength(1);
    expect(fake.calls().every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('backfill --from 2026-11-01 --to 2026-11-03 writes those two property-local days, across the DST change', async () => {
    const before = fake.calls().length;
    const result = await runCommand(
      ['bin/backfill.ts', 'google-analytics', '--from', '2026-11-01', '--to', '2026-11-03', '--config', config('ga-history')],
      {
        env: env('state-history'),
      },
    );
    expect(result.code, result.stderr).toBe(0);
    await carbon.flush();
    const from = utc('2026-10-30T00:00:00Z');
    const until = utc('2026-11-04T12:00:00Z');

    // 1 Nov: 00 at 04:00Z (EDT), 01 at 05:00Z (its first occurrence), 02 at 07:00Z (EST) … ; 2 Nov: 00 at 05:00Z.
    const expected: Array<[number, number]> = [];
    for (let h = 0; h < 24; h++)
      expected.push([h < 2 ? utc('2026-11-01T04:00:00Z') + h * 3600 : utc('2026-11-01T05:00:00Z') + h * 3600, 100 + h]);
    for (let h = 0; h < 24; h++) expected.push([utc('2026-11-02T05:00:00Z') + h * 3600, 200 + h]);
    expect(await carbon.fetch(`ga4.${PROPERTY}.traffic.sessions`, from, until)).toEqual(expected);

    const sum = (day: number, parity: number) =>
      Array.from({ length: 12 }, (_, k) => day * 100 + 2 * k + parity).reduce((a, b) => a + b, 0);
    expect(await carbon.fetch(`ga4.${PROPERTY}.devices.desktop.sessions`, from, until)).toEqual([
      [utc('2026-11-01T04:00:00Z'), sum(1, 0)],
      [utc('2026-11-02T05:00:00Z'), sum(2, 0)],
    ]);
    expect(await carbon.fetch(`ga4.${PROPERTY}.devices.mobile.sessions`, from, until)).toEqual([
      [utc('2026-11-01T04:00:00Z'), sum(1, 1)],
      [utc('2026-11-02T05:00:00Z'), sum(2, 1)],
    ]);

    // One request for the property's time zone, then the three reports in one batch; no realtime.
    const calls = fake.calls().slice(before);
    expect(calls.map((c) => c.method)).toEqual(['runReport', 'batchRunReports']);
    expect((calls[1]!.body as { requests: Array<{ dateRanges: unknown }> }).requests.map((r) => r.dateRanges)).toEqual(
      Array(3).fill([{ startDate: '2026-11-01', endDate: '2026-11-02' }]),
    );
  });
});
