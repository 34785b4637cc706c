import { describe, expect, it } from 'vitest';
import { parseGraphiteUrl } from '../../lib/graphite-url.ts';

describe('parseGraphiteUrl', () => {
  it.each([
    [undefined, { kind: 'stdout' }],
    ['', { kind: 'stdout' }],
    ['-', { kind: 'stdout' }],
    ['tcp://graphite:2003', { kind: 'tcp', host: 'graphite', port: 2003 }],
    ['TCP://Graphite.example.com:2003/', { kind: 'tcp', host: 'Graphite.example.com', port: 2003 }],
    ['udp://10.0.0.5:2003', { kind: 'udp', host: '10.0.0.5', port: 2003 }],
    ['tcp://[::1]:2003', { kind: 'tcp', host: '::1', port: 2003 }],
    [' tcp://carbon-relay_1:12003 ', { kind: 'tcp', host: 'carbon-relay_1', port: 12003 }],
  ])('%j', (url, expected) => {
    expect(parseGraphiteUrl(url)).toEqual(expected);
  });

  it.each([
    ['graphite:2003', /expected tcp:\/\/host:port/],
    ['http://graphite:2003', /unsupported scheme "http:\/\/"/],
    ['tcp://graphite', /missing port/],
    ['tcp://graphite:', /missing port/],
    ['tcp://:2003', /missing host/],
    ['tcp://graphite:0', /port 0 out of range/],
    ['tcp://graphite:70000', /port 70000 out of range/],
    ['tcp://graphite:20o3', /expected tcp:\/\/host:port/],
    ['tcp://user@graphite:2003', /expected tcp:\/\/host:port/],
    ['tcp://[not-ipv6]:2003', /invalid IPv6 address/],
    ['tcp://graphite:2003/path', /expected tcp:\/\/host:port/],
  ])('rejects %j', (url, message) => {
    expect(() => parseGraphiteUrl(url)).toThrow(message);
    try {
      parseGraphiteUrl(url);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
