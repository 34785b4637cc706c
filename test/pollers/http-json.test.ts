// http-json against a real local HTTP server: leaves become paths, errors are errors, keys cannot inject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import httpJson, { numericLeaves } from '../../pollers/http-json.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { TestHttpServer } from '../helpers/http-server.ts';

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
    server.respond(200, { db: { connections: 5, ok: true, name: 'main', lag: null }, disks: [{ free: 3.5 }, { free: 7 }], 'hits per s': -2 });
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
});
