import { describe, expect, it } from 'vitest';
import { maskUrlSecrets, parseGraphiteUrl } from '../../../lib/graphite/url.ts';

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
    ['tls://graphite.example:2004', { kind: 'tls', host: 'graphite.example', port: 2004 }],
    [
      'https://my-stack.grafana.net/graphite/metrics',
      { kind: 'http', url: 'https://my-stack.grafana.net/graphite/metrics', host: 'my-stack.grafana.net' },
    ],
    ['http://[::1]:8080/metrics', { kind: 'http', url: 'http://[::1]:8080/metrics', host: '::1' }],
  ])('%j', (url, expected) => {
    expect(parseGraphiteUrl(url)).toEqual(expected);
  });

  it.each([
    ['graphite:2003', /expected tcp:\/\/host:port/],
    ['ftp://graphite:2003', /unsupported scheme "ftp:\/\/"/],
    ['https://user:hunter@graphite.example/graphite/metrics', /expected no credentials in the URL \(it is logged\)/],
    ['https://graphite.example/graphite/metrics?api_key=x', /expected the ingestion URL without a query string/],
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

  it.each([
    ['tcp://graphite:2003?password=hunter2', 'got "tcp://graphite:2003?***"'],
    ['tcp://graphite:2003/?a=1&token=hunter2', 'got "tcp://graphite:2003/?***"'],
    ['tcp://graphite:2003#hunter2', 'got "tcp://graphite:2003#***"'],
    ['tcp://user:hunter2@graphite:2003', 'got "tcp://user:***@graphite:2003"'],
    ['https://user:hunter2@graphite:2003', 'got "https://user:***@graphite:2003"'],
  ])('never quotes the secret of %j in its error', (url, shown) => {
    expect(() => parseGraphiteUrl(url)).toThrow(shown);
    expect(() => parseGraphiteUrl(url)).not.toThrow(/hunter2/);
  });
});

describe('maskUrlSecrets', () => {
  it.each([
    ['tcp://graphite:2003', 'tcp://graphite:2003'],
    ['tcp://user@graphite:2003', 'tcp://user@graphite:2003'],
    ['tcp://user:p@ss@graphite:2003/x', 'tcp://user:***@graphite:2003/x'],
    ['tcp://h:2003?password=x&y=2', 'tcp://h:2003?***'],
  ])('%j → %j', (text, masked) => {
    expect(maskUrlSecrets(text)).toBe(masked);
  });
});
