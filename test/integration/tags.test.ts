// GRAPHITE_TAGS=1 end to end: a poller's tags become Graphite 1.1 tagged series (`name;tag=value`), sanitized by
// carbon's rules, and a real carbon-cache stores each under _tagged/… where the test reads it back.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon, taggedWhisperName } from '../helpers/carbon.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';

// A poller that emits tags, as CloudWatch dimensions or GA4 dimensions would: clean ones, and keys and values
// that break each of carbon's rules. Written at run time into POLLERS_PATH.
const TAGGED_POLLER = `
import { z } from 'zod';
import { definePoller } from ${JSON.stringify(pathToFileURL(join(ROOT, 'lib', 'poller-kit', 'index.ts')).href)};

export default definePoller({
  name: 'tagged',
  summary: 'Datapoints with Graphite tags, for the tag mode test',
  options: z.strictObject({}),
  schedule: { interval: 60 },
  async poll({ window, sink }) {
    const at = window.end;
    sink.emit(['svc', 'eu-west-1', 'requests'], 1, at, { region: 'eu-west-1', service: 'api' });
    sink.emit(['svc', 'us-east-1', 'requests'], 2, at, { service: 'api', region: 'us-east-1' });
    sink.emit(['svc', 'latency'], 3, at, {
      'host name': 'web 01',
      'a=b': 'x=y',
      'semi;colon': 'v;w',
      tilde: '~home',
      empty: '',
      'dots.ok': 'v.1.2',
      name: 'mine',
      'bang!': 'caret^',
      country: 'Côte d’Ivoire',
      newline: 'two\\nlines',
      'dup key': 'first',
      dup_key: 'second',
    });
    sink.emit(['svc', 'plain'], 4, at);
    sink.emit(['svc', 'no-tags'], 5, at, {});
  },
});
`;

// What the line names must be, written out by hand from carbon's rules (not computed with lib/graphite/metric-path.ts).
const EXPECTED_TAGGED: Array<[series: string, value: number]> = [
  ['svc.eu-west-1.requests;region=eu-west-1;service=api', 1],
  ['svc.us-east-1.requests;region=us-east-1;service=api', 2],
  [
    'svc.latency;a_b=x=y;bang_=caret^;country=Côte_d’Ivoire;dots.ok=v.1.2;dup_key=first;empty=_;host_name=web_01;_name=mine;' +
      'newline=two_lines;semi_colon=v_w;tilde=_home',
    3,
  ],
];
const EXPECTED_PLAIN: Array<[path: string, value: number]> = [
  ['svc.plain', 4],
  ['svc.no-tags', 5],
];

describeCarbon('GRAPHITE_TAGS=1 into a real carbon-cache', () => {
  let carbon: Carbon;
  let work: string;
  const env = (extra: NodeJS.ProcessEnv) => ({
    GRAPHITE_URL: carbon.url,
    POLLERS_PATH: join(work, 'pollers'),
    SELF_METRICS: '0',
    STATE_DIR: join(work, 'state'),
    ...extra,
  });

  beforeAll(async () => {
    carbon = await Carbon.start();
    work = mkdtempSync(join(tmpdir(), 'gp-tags-'));
    mkdirSync(join(work, 'pollers'));
    // The poller file imports zod: resolved through a node_modules beside it.
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
    writeFileSync(join(work, 'pollers', 'tagged.ts'), TAGGED_POLLER);
  });
  afterAll(async () => {
    await carbon?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('--dry-run prints tagged line names exactly as Graphite 1.1 wants them', async () => {
    const result = await runCommand(['bin/poll.ts', 'tagged', '--once', '--dry-run'], { env: env({ GRAPHITE_TAGS: '1' }) });
    expect(result.code, result.stderr).toBe(0);
    const names = result.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[0]);
    expect(names).toEqual([...EXPECTED_TAGGED.map(([s]) => s), ...EXPECTED_PLAIN.map(([p]) => p)]);
  });

  it('carbon stores every tagged series under _tagged/, parsed without an error, values at the tick', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await runCommand(['bin/poll.ts', 'tagged', '--once'], { env: env({ GRAPHITE_TAGS: '1', GRAPHITE_PREFIX: 'tags' }) });
    const after = Math.floor(Date.now() / 1000);
    expect(result.code, result.stderr).toBe(0);
    await carbon.flush();
    // The tick of the run: the minute boundary before or after it ran, some time between `before` and `after` (on a
    // busy host the process may start a minute later).
    const first = Math.ceil(before / 60) * 60 - 60;
    const ticks = Array.from({ length: (Math.ceil(after / 60) * 60 - first) / 60 + 1 }, (_, i) => first + i * 60);

    for (const [series, value] of EXPECTED_TAGGED) {
      const points = await carbon.fetchTagged(`tags.${series}`, before - 120);
      expect(points, series).toHaveLength(1);
      expect(points[0]![1]).toBe(value);
      expect(ticks).toContain(points[0]![0]);
    }
    for (const [path, value] of EXPECTED_PLAIN)
      expect((await carbon.fetch(`tags.${path}`, before - 120)).map(([, v]) => v)).toEqual([value]);

    // Nothing else: no series stored under a name carbon had to repair, no untagged copy of a tagged one.
    const stored = (await carbon.list()).sort();
    expect(stored).toEqual(
      [...EXPECTED_TAGGED.map(([s]) => taggedWhisperName(`tags.${s}`)), ...EXPECTED_PLAIN.map(([p]) => `tags.${p}`)].sort(),
    );
    expect(carbon.log()).not.toMatch(/Error parsing metric/);
  });

  it('the checks above would notice a line carbon rejects: carbon logs it', async () => {
    const now = Math.floor(Date.now() / 1000);
    await carbon.send(`control.bad;~x=~y 1 ${now}\n`);
    await carbon.flush();
    expect(carbon.log()).toMatch(/Error parsing metric control\.bad;~x=~y/);
  });

  it('without GRAPHITE_TAGS the same poller writes plain paths only', async () => {
    const result = await runCommand(['bin/poll.ts', 'tagged', '--once', '--dry-run'], { env: env({ GRAPHITE_TAGS: '' }) });
    expect(result.code, result.stderr).toBe(0);
    expect(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[0]),
    ).toEqual(['svc.eu-west-1.requests', 'svc.us-east-1.requests', 'svc.latency', 'svc.plain', 'svc.no-tags']);
  });

  it('a GRAPHITE_TAGS typo is a configuration error (exit 78), not silently untagged', async () => {
    const result = await runCommand(['bin/poll.ts', 'tagged', '--once', '--dry-run'], { env: env({ GRAPHITE_TAGS: 'ture' }) });
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/GRAPHITE_TAGS.*expected 1/);
    expect(result.stdout).toBe('');
  });
});
