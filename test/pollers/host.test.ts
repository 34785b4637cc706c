// host: real values from node:os, one node for the host name whatever it holds.
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import host from '../../pollers/host.ts';
import { testContext } from '../helpers/capture-sink.ts';

it('emits load, memory and uptime of this machine at the window end', async () => {
  const window = { start: 1_700_000_000, end: 1_700_000_060 };
  const context = testContext({ options: host.options.parse({}), window });
  await host.poll(context);
  const name = hostname().split('.')[0];
  const series = context.sink.series();
  for (const leaf of [
    'load.1m',
    'load.5m',
    'load.15m',
    'cpus',
    'memory.total_bytes',
    'memory.available_bytes',
    'memory.used_bytes',
    'memory.used_percent',
    'uptime_seconds',
  ]) {
    const points = series[`host.${name}.${leaf}`];
    expect(points, leaf).toHaveLength(1);
    expect(points![0]![0]).toBe(window.end);
    expect(Number.isFinite(points![0]![1])).toBe(true);
  }
  expect(series[`host.${name}.memory.total_bytes`]![0]![1]).toBeGreaterThan(0);
  expect(context.sink.points[0]!.nodes).toEqual(['host', name, 'load', '1m']);
});
