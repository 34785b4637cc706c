// Which files a --jobs process runs and which poller each belongs to, from the file's name.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { listJobFiles, pollerOfFile, readJobFile } from '../../../lib/run/job-directory.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const POLLERS = ['host', 'http', 'http-json', 'sql'];

describe('job files', () => {
  it('a directory stands for its *.yaml and *.yml files, sorted, without examples, hidden files or subdirectories', () => {
    const dir = tempDir('jobs');
    for (const name of [
      'sql-orders.yml',
      'host.yaml',
      'http-json-shop.yaml',
      'http-json.example.yaml',
      '.host.yaml.swp',
      '.hidden.yaml',
      'notes.txt',
    ]) {
      writeFileSync(join(dir, name), '');
    }
    mkdirSync(join(dir, 'sub.yaml'));
    expect(listJobFiles([dir])).toEqual(['host.yaml', 'http-json-shop.yaml', 'sql-orders.yml'].map((n) => join(dir, n)));
    // Files named on their own count once, even inside a listed directory.
    expect(listJobFiles([join(dir, 'host.yaml'), dir])).toEqual(
      ['host.yaml', 'http-json-shop.yaml', 'sql-orders.yml'].map((n) => join(dir, n)),
    );
  });

  it('a missing path or an empty directory refuses the start, naming it; on a reload they just hold no job', () => {
    const dir = tempDir('jobs');
    expect(() => listJobFiles([dir])).toThrow(ConfigError);
    expect(() => listJobFiles([dir])).toThrow(/no job files/);
    expect(() => listJobFiles([join(dir, 'gone.yaml')])).toThrow(/no such file/);
    expect(listJobFiles([dir], { reload: true })).toEqual([]);
    expect(listJobFiles([join(dir, 'gone.yaml')], { reload: true })).toEqual([]);
    // A vanished directory is more likely a half-done deploy: the reload is refused, the jobs keep running.
    expect(() => listJobFiles([join(dir, 'gone')], { reload: true })).toThrow(/no such file/);
  });

  it('the poller is the file name or its start before "-": the longest poller name wins', () => {
    expect(pollerOfFile('jobs/host.yaml', POLLERS)).toBe('host');
    expect(pollerOfFile('jobs/http-json.yaml', POLLERS)).toBe('http-json');
    expect(pollerOfFile('jobs/http-json-shop.yaml', POLLERS)).toBe('http-json');
    expect(pollerOfFile('jobs/http-legacy.yaml', POLLERS)).toBe('http');
    expect(pollerOfFile('jobs/sql-orders.yml', POLLERS)).toBe('sql');
    expect(() => pollerOfFile('jobs/hostname.yaml', POLLERS)).toThrow(/jobs\/hostname\.yaml|name it <poller>\.yaml/);
    try {
      pollerOfFile('jobs/orders.yaml', POLLERS);
      expect.fail('no poller fits');
    } catch (error) {
      expect((error as ConfigError).describe()).toBe(
        'jobs/orders.yaml: its name does not say which poller runs it: name it <poller>.yaml or <poller>-<anything>.yaml, ' +
          'where <poller> is one of host, http, http-json, sql',
      );
    }
  });

  it('reads a job file with its text (what a reload compares)', () => {
    const dir = tempDir('jobs');
    writeFileSync(join(dir, 'host-a.yaml'), 'interval: 5\n');
    expect(readJobFile(join(dir, 'host-a.yaml'), POLLERS)).toEqual({
      file: join(dir, 'host-a.yaml'),
      poller: 'host',
      text: 'interval: 5\n',
    });
  });
});
