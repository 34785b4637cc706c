// The logger: one line per event, and never a secret, whoever wrote the message.
import { describe, expect, it } from 'vitest';
import { createLogger, readLogFormat, readLogLevel } from '../../../lib/poller-kit/logger.ts';

function capture(format: 'text' | 'json', secrets: string[] = []) {
  const lines: string[] = [];
  return { lines, log: createLogger({ format, level: 'debug', secrets, write: (line) => lines.push(line), now: () => 0 }) };
}

describe('createLogger', () => {
  it('masks the values of secret-looking environment variables', () => {
    const { lines, log } = capture('text', ['s3cr3t-token']);
    log.error('request failed: Authorization: Bearer s3cr3t-token', { header: 'Bearer s3cr3t-token' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('s3cr3t-token');
  });

  it.each(['text', 'json'] as const)('masks the password of a URL quoted in a message or a field (%s)', (format) => {
    const { lines, log } = capture(format);
    // fetch's own message for a URL with credentials quotes it whole.
    log.error('run failed: Request cannot be constructed from a URL that includes credentials: http://user:hunter2@127.0.0.1:9/status', {
      url: 'https://admin:p%40ss@example.net/x',
    });
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('p%40ss');
    expect(lines[0]).toContain('http://user:***@127.0.0.1:9/status');
    // Addresses without a password, and e-mail addresses, are left alone.
    log.info('sent', {
      to: 'tcp://graphite.example.net:2003',
      account: 'poller@project.iam.gserviceaccount.com',
      url: 'https://user@example.net/',
    });
    expect(lines[1]).toContain('tcp://graphite.example.net:2003');
    expect(lines[1]).toContain('poller@project.iam.gserviceaccount.com');
    expect(lines[1]).toContain('https://user@example.net/');
  });

  it.each(['text', 'json'] as const)('masks secret-looking query parameters of a URL quoted anywhere (%s)', (format) => {
    const { lines, log } = capture(format);
    log.error('fetch failed: https://api.example.net/v1?format=json&api_key=hunter2&page=2', { url: 'tcp://h:2003?password=hunter3' });
    expect(lines[0]).not.toMatch(/hunter[23]/);
    expect(lines[0]).toContain('?format=json&api_key=***&page=2');
    expect(lines[0]).toContain('?password=***');
    // Ordinary parameters are left alone.
    log.info('fetched', { url: 'https://api.example.net/v1?format=json&page=2' });
    expect(lines[1]).toContain('https://api.example.net/v1?format=json&page=2');
  });
});

describe('LOG_LEVEL and LOG_FORMAT as the environment schema reads them', () => {
  it('accepts the levels and formats in any case', () => {
    expect(['debug', 'INFO', ' Warn ', 'error'].map(readLogLevel)).toEqual(['debug', 'info', 'warn', 'error']);
    expect(['text', 'JSON'].map(readLogFormat)).toEqual(['text', 'json']);
  });

  it('refuses anything else, saying what is expected', () => {
    expect(() => readLogLevel('verbose')).toThrow('expected debug, info, warn or error, got "verbose"');
    expect(() => readLogFormat('yaml')).toThrow('expected text or json, got "yaml"');
  });
});
