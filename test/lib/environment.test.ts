// The environment contract: GRAPHITE_URL, GRAPHITE_PREFIX, GRAPHITE_QUEUE_LIMIT, GRAPHITE_TAGS, STATE_DIR.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config-error.ts';
import { readEnvironment } from '../../lib/environment.ts';

describe('readEnvironment', () => {
  it('has defaults for a bare environment: stdout, no prefix, ./state', () => {
    expect(readEnvironment({})).toEqual({
      graphiteUrl: undefined,
      prefix: undefined,
      queueLimit: 500_000,
      tags: false,
      stateDir: resolve('state'),
      selfMetrics: true,
    });
    expect(readEnvironment({ GRAPHITE_URL: '-' }).graphiteUrl).toBeUndefined();
  });

  it('reads every variable', () => {
    const env = readEnvironment({ GRAPHITE_URL: 'tcp://carbon:2003', GRAPHITE_PREFIX: '.prod.web.', GRAPHITE_QUEUE_LIMIT: '1000', GRAPHITE_TAGS: '1', STATE_DIR: '/var/lib/gp', SELF_METRICS: '0' });
    expect(env).toEqual({ graphiteUrl: 'tcp://carbon:2003', prefix: 'prod.web', queueLimit: 1000, tags: true, stateDir: '/var/lib/gp', selfMetrics: false });
  });

  it.each([
    [{ GRAPHITE_URL: 'carbon:2003' }, /GRAPHITE_URL: expected tcp:\/\/host:port/],
    [{ GRAPHITE_URL: 'tcp://carbon' }, /GRAPHITE_URL: missing port/],
    [{ GRAPHITE_QUEUE_LIMIT: 'lots' }, /GRAPHITE_QUEUE_LIMIT: expected a positive whole number/],
    [{ GRAPHITE_QUEUE_LIMIT: '0' }, /GRAPHITE_QUEUE_LIMIT/],
  ])('refuses %o with a configuration error', (env, message) => {
    let error: unknown;
    try {
      readEnvironment(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toMatch(message);
  });
});
