// The GA4 Data API fake answers the real client as GA does: shapes from Google's samples, limits and error bodies.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { analyticsdata, auth } from '@googleapis/analyticsdata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ga4Fake, MESSAGES } from '../helpers/ga4-fake.ts';
import { ROOT } from '../helpers/run-command.ts';

const FIXTURES = resolve(ROOT, '..', 'shared', 'fixtures', 'ga4');

describe('GA4 Data API fake', () => {
  let fake: Ga4Fake;
  let api: ReturnType<typeof analyticsdata>;
  const options = () => ({ rootUrl: fake.url, retry: false });
  beforeAll(async () => {
    fake = await Ga4Fake.start({ now: () => Date.parse('2026-03-09T12:00:00Z') });
    fake.addProperty({
      id: '1',
      timeZone: 'America/Los_Angeles',
      rows: [
        { dateHour: '2026030800', dimensions: { country: 'Japan' }, metrics: { activeUsers: 2541 } },
        { dateHour: '2026030800', dimensions: { country: 'France' }, metrics: { activeUsers: 12 } },
      ],
    });
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: 'test-token' });
    api = analyticsdata({ version: 'v1beta', auth: client });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("answers runReport in the shape of Google's documented sample", async () => {
    const sample = JSON.parse(readFileSync(resolve(FIXTURES, 'ga4-runReport-example.json'), 'utf8')) as Record<string, unknown>;
    const { data } = await api.properties.runReport(
      {
        property: 'properties/1',
        requestBody: {
          dimensions: [{ name: 'country' }],
          metrics: [{ name: 'activeUsers' }],
          dateRanges: [{ startDate: 'yesterday', endDate: 'today' }],
          orderBys: [{ dimension: { dimensionName: 'country' }, desc: true }],
        },
      },
      options(),
    );
    // The sample's metadata is empty; GA's answers (and the quickstart sample) name currency and zone.
    expect({ ...data, metadata: {}, kind: undefined }).toEqual({ ...sample, kind: undefined });
    expect(data.metadata).toEqual({ currencyCode: 'USD', timeZone: 'America/Los_Angeles' });
    expect(data.kind).toBe('analyticsData#runReport');
  });

  it('pages by offset and limit, int64s as strings, rowCount independent of the page', async () => {
    const page = async (offset: string) =>
      (
        await api.properties.runReport(
          {
            property: 'properties/1',
            requestBody: {
              dimensions: [{ name: 'country' }],
              metrics: [{ name: 'activeUsers' }],
              dateRanges: [{ startDate: '2026-03-08', endDate: '2026-03-08' }],
              limit: '1',
              offset,
            },
          },
          options(),
        )
      ).data;
    expect((await page('0')).rows!.map((r) => r.dimensionValues![0]!.value)).toEqual(['France']);
    expect((await page('1')).rows!.map((r) => r.dimensionValues![0]!.value)).toEqual(['Japan']);
    const past = await page('2');
    expect(past.rows).toBeUndefined();
    expect(past.rowCount).toBe(2);
  });

  it('leaves rows and rowCount out of an empty answer, and adds propertyQuota only when asked', async () => {
    const { data } = await api.properties.runReport(
      {
        property: 'properties/1',
        requestBody: { metrics: [{ name: 'activeUsers' }], dateRanges: [{ startDate: '2026-01-01', endDate: '2026-01-02' }] },
      },
      options(),
    );
    expect(data.rows).toBeUndefined();
    expect(data.rowCount).toBeUndefined();
    expect(data.propertyQuota).toBeUndefined();
  });

  const rejects = async (call: Promise<unknown>, status: number, apiStatus: string, message: string | RegExp) => {
    const error = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as { status?: number; response?: { data?: { error?: { code: number; status: string; message: string } } } };
    expect(error?.status).toBe(status);
    expect(error.response?.data?.error).toMatchObject({ code: status, status: apiStatus });
    expect(error.response?.data?.error?.message).toMatch(message);
  };

  it("answers errors in Google's JSON error format", async () => {
    const report = { metrics: [{ name: 'activeUsers' }], dateRanges: [{ startDate: 'today', endDate: 'today' }] };
    await rejects(
      api.properties.runReport({ property: 'properties/1', requestBody: { ...report, metrics: [{ name: 'nope' }] } }, options()),
      400,
      'INVALID_ARGUMENT',
      /^Field nope is not a valid metric/,
    );
    await rejects(
      api.properties.runRealtimeReport(
        { property: 'properties/1', requestBody: { metrics: [{ name: 'activeUsers' }], offset: '10' } as never },
        options(),
      ),
      400,
      'INVALID_ARGUMENT',
      /Unknown name "offset"/,
    );
    await rejects(
      api.properties.batchRunReports({ property: 'properties/1', requestBody: { requests: Array(6).fill(report) } }, options()),
      400,
      'INVALID_ARGUMENT',
      /maximum is 5/,
    );
    await rejects(
      api.properties.runReport({ property: 'properties/2', requestBody: report }, options()),
      403,
      'PERMISSION_DENIED',
      MESSAGES.permission,
    );
    const anonymous = analyticsdata({ version: 'v1beta' });
    await rejects(
      anonymous.properties.runReport({ property: 'properties/1', requestBody: report }, options()),
      401,
      'UNAUTHENTICATED',
      MESSAGES.missingCredentials,
    );
    fake.fail({ status: 500 });
    await rejects(
      api.properties.runReport({ property: 'properties/1', requestBody: report }, options()),
      500,
      'INTERNAL',
      MESSAGES.internal,
    );
    fake.exhaust('1', 'day');
    await rejects(
      api.properties.runReport({ property: 'properties/1', requestBody: report }, options()),
      429,
      'RESOURCE_EXHAUSTED',
      MESSAGES.tokensPerDay,
    );
  });
});
