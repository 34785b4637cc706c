// config/grafana/pollers-dashboard.json against real self-metrics: two jobs write to a carbon-cache that goes away
// for a while; the dashboard's $job query finds both jobs, every panel's Graphite target matches their series (its
// alias naming the job), and the panels are drawn from whisper into a PNG (rsvg-convert). UPDATE_DOCS_IMAGES=1
// runs the jobs longer, with a Graphite outage, a failing and a slow API, and writes docs/images/self-metrics.png.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, describeCarbon, type Point } from '../helpers/carbon.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DASHBOARD = join(ROOT, 'config', 'grafana', 'pollers-dashboard.json');
const PICTURE = join(ROOT, 'docs', 'images', 'self-metrics.png');
const RSVG = '/usr/bin/rsvg-convert';
const UPDATE = process.env.UPDATE_DOCS_IMAGES === '1';
const PREFIX = 'ops';
const BASE = `${PREFIX}.pollers`;

interface Target {
  refId: string;
  target: string;
}
interface Panel {
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  fieldConfig: { defaults: { unit?: string; custom?: { drawStyle?: string } } };
  targets: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string;
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Grafana's interpolation for Graphite: `$base` as typed, a multi-value `$job` as `{a,b}`. */
const interpolate = (text: string, jobs: readonly string[]) =>
  text.replaceAll('$base', BASE).replaceAll('$job', jobs.length === 1 ? jobs[0]! : `{${jobs.join(',')}}`);

/** Graphite's glob syntax (`*`, `{a,b}`, `[..]`) for one path expression, as a RegExp over whole names. */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^.]*';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      out += `(?:${glob
        .slice(i + 1, end)
        .split(',')
        .map(escape)
        .join('|')})`;
      i = end;
    } else if (c === '[') {
      const end = glob.indexOf(']', i);
      out += glob.slice(i, end + 1);
      i = end;
    } else out += escape(c);
  }
  return new RegExp(`^${out}$`);
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The series one target reads (its path expressions matched against the stored names), labelled as its alias would. */
function seriesOf(target: string, jobs: readonly string[], names: readonly string[]): Array<{ name: string; label: string }> {
  const expression = interpolate(target, jobs);
  const paths = [...expression.matchAll(new RegExp(`${escape(BASE)}\\.(?:\\{[^}]*\\}|[^,()\\s{}]+)(?:\\.[A-Za-z0-9_*-]+)*`, 'g'))].map(
    (m) => m[0],
  );
  expect(paths.length, `${target}: no path expression`).toBeGreaterThan(0);
  const alias = /aliasByNodes?\(.*?,\s*(-?\d+(?:\s*,\s*-?\d+)*)\)\s*$/.exec(expression);
  const nodes = alias ? alias[1]!.split(',').map((n) => Number(n.trim())) : [];
  return paths.flatMap((path) =>
    names
      .filter((name) => globToRegExp(path).test(name))
      .map((name) => {
        const parts = name.split('.');
        return { name, label: nodes.length ? nodes.map((n) => parts.at(n)).join('.') : name };
      }),
  );
}

/** Graphite's summarize(…, '1min', 'count' | 'sum'), the only transformation the panels use besides aliases. */
function applyFunctions(target: string, points: Point[]): Point[] {
  const summarize = /summarize\(.*,\s*'(\d+)min',\s*'(count|sum)'/.exec(target);
  if (!summarize) return points;
  const bucket = Number(summarize[1]) * 60;
  const out = new Map<number, number>();
  for (const [t, v] of points)
    out.set(Math.floor(t / bucket) * bucket, (out.get(Math.floor(t / bucket) * bucket) ?? 0) + (summarize[2] === 'count' ? 1 : v));
  return [...out].sort((a, b) => a[0] - b[0]);
}

describe('config/grafana/pollers-dashboard.json', () => {
  it("is a Graphite dashboard with a datasource variable, a $job variable over the self-metrics, and the issue's panels", () => {
    expect(dashboard.uid).toBe('graphite-pollers');
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'graphite' });
    expect(variables.get('job')).toMatchObject({ type: 'query', query: '$base.*', multi: true, includeAll: true });
    expect(variables.get('base')?.query).toBe('pollers');
    for (const panel of dashboard.panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'graphite', uid: '${datasource}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { target } of panel.targets) expect(target, panel.title).toContain('$base.$job.');
    }
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const word of ['runs', 'duration', 'errors', 'lag', 'queue', 'dropped']) expect(titles).toContain(word);
  });
});

describeCarbon('the dashboard over real self-metrics', () => {
  let carbon: Carbon;
  let api: TestHttpServer;
  let work: string;
  const jobs: ChildProcess[] = [];
  /** What each job logged (JSON lines on stderr), by job name. */
  const output = new Map<string, string>();
  let started = 0;
  let ended = 0;
  let mode: 'ok' | 'failing' | 'slow' = 'ok';
  let hits = 0;

  beforeAll(
    async () => {
      carbon = await Carbon.start();
      api = await TestHttpServer.start(async (_, response) => {
        hits++;
        if (mode === 'slow') await sleep(1400 + (hits % 5) * 100);
        else await sleep(20 + ((hits * 37) % 90));
        if (mode === 'failing') {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end('upstream down');
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ orders: { open: 40 + (hits % 13), paid: hits }, queue: { depth: (hits * 7) % 30 } }));
      });
      work = mkdtempSync(join(tmpdir(), 'gp-dashboard-'));
      writeFileSync(join(work, 'shop-status.yaml'), `url: ${api.url}/status\nprefix: shop\ninterval: 1\ntimeout: 2.5\nrunTimeout: 3\n`);
      writeFileSync(join(work, 'host.yaml'), 'interval: 1\n');
      const spawnJob = (args: string[], env: NodeJS.ProcessEnv) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bin/poll.ts', ...args], {
          cwd: ROOT,
          env: {
            ...process.env,
            GRAPHITE_URL: carbon.url,
            GRAPHITE_PREFIX: PREFIX,
            STATE_DIR: join(work, 'state'),
            LOG_FORMAT: 'json',
            ...env,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        output.set(args[0]!, '');
        child.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.set(args[0]!, output.get(args[0]!)! + chunk));
        jobs.push(child);
      };
      started = Math.floor(Date.now() / 1000);
      spawnJob(['http-json', '--config', join(work, 'shop-status.yaml')], {});
      // A small queue for this job, so the outage below overflows it and the drops panel has something to show.
      spawnJob(['host', '--config', join(work, 'host.yaml')], { GRAPHITE_QUEUE_LIMIT: UPDATE ? '300' : '40' });

      await carbon.wait(`${BASE}.shop-status.duration_ms`, 2);
      await carbon.wait(`${BASE}.host.duration_ms`, 2);
      const phase = async (seconds: number, what?: () => Promise<void> | void) => {
        await what?.();
        await sleep(seconds * 1000);
      };
      if (UPDATE) {
        await phase(40);
        await phase(25, () => carbon.stop());
        await phase(25, () => carbon.restart());
        await phase(12, () => void (mode = 'failing'));
        await phase(18, () => void (mode = 'ok'));
        await phase(8, () => void (mode = 'slow'));
        await phase(22, () => void (mode = 'ok'));
      } else {
        // Conditions, not durations (a busy host skips ticks): the outage lasts until the host job's small queue
        // overflowed, and the jobs run on until carbon holds what the outage test below looks for.
        await phase(1);
        await carbon.stop();
        await waitFor(
          'the host job dropping from its full queue',
          () => output.get('host')!.includes('graphite queue full, dropping the oldest lines'),
          {
            detail: () => output.get('host')!,
          },
        );
        await carbon.restart();
        await waitFor(
          'the outage in the self-metrics',
          async () => {
            await carbon.flush();
            const dump = await carbon.dump(started - 60, Math.floor(Date.now() / 1000) + 60);
            const total = (name: string) => (dump.get(`${BASE}.${name}`) ?? []).reduce((sum, [, v]) => sum + v, 0);
            return (
              total('shop-status.writer.queued') > 0 &&
              total('shop-status.writer.reconnects') + total('host.writer.reconnects') >= 1 &&
              total('host.writer.dropped') > 0
            );
          },
          { intervalMs: 1000 },
        ).catch(() => undefined); // the test below says which is missing
      }
      for (const job of jobs) job.kill('SIGTERM');
      await Promise.all(jobs.map((job) => new Promise((r) => (job.exitCode !== null ? r(null) : job.once('exit', r)))));
      ended = Math.floor(Date.now() / 1000);
      await carbon.flush();
    },
    UPDATE ? 300_000 : 180_000,
  );

  afterAll(async () => {
    for (const job of jobs) if (job.exitCode === null) job.kill('SIGKILL');
    await api?.close();
    await carbon?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('$job finds both jobs; every target matches their series, its alias naming the job', async () => {
    const names = await carbon.list();
    const jobVariable = dashboard.templating.list.find((v) => v.name === 'job')!;
    const found = names.filter((n) => globToRegExp(interpolate(jobVariable.query, []) + '.*').test(n)).map((n) => n.split('.')[2]!);
    expect([...new Set(found)].sort()).toEqual(['host', 'shop-status']);
    for (const panel of dashboard.panels) {
      for (const { target } of panel.targets) {
        for (const job of ['host', 'shop-status']) {
          const series = seriesOf(target, ['host', 'shop-status'], names).filter((s) => s.name.split('.')[2] === job);
          expect(series.length, `${panel.title}: ${target} for ${job}`).toBeGreaterThan(0);
          for (const { label } of series) expect(label.split('.')[0], target).toBe(job);
        }
      }
    }
  });

  it('the outage shows: queued datapoints, a reconnect, drops where the queue was small', async () => {
    const dump = await carbon.dump(started - 60, ended + 60);
    const total = (name: string) => (dump.get(`${BASE}.${name}`) ?? []).reduce((sum, [, v]) => sum + v, 0);
    const max = (name: string) => Math.max(0, ...(dump.get(`${BASE}.${name}`) ?? []).map(([, v]) => v));
    expect(max('shop-status.writer.queued')).toBeGreaterThan(0);
    expect(total('shop-status.writer.reconnects') + total('host.writer.reconnects')).toBeGreaterThanOrEqual(1);
    expect(total('host.writer.dropped')).toBeGreaterThan(0);
  });

  const cannotRender = existsSync(RSVG) ? undefined : 'rsvg-convert is not installed (apt-get install -y librsvg2-bin)';
  it.skipIf(!!cannotRender && process.env.CI !== 'true')(
    `draws the panels into a PNG${cannotRender ? ` [skipped: ${cannotRender}]` : ''}`,
    async () => {
      if (cannotRender) expect.fail(cannotRender);
      const dump = await carbon.dump(started - 60, ended + 60);
      const names = [...dump.keys()];
      const panels = dashboard.panels.map((panel) => ({
        title: panel.title,
        unit: panel.fieldConfig.defaults.unit ?? '',
        bars: panel.fieldConfig.defaults.custom?.drawStyle === 'bars',
        series: panel.targets.flatMap(({ target }) =>
          seriesOf(target, ['host', 'shop-status'], names).map(({ name, label }) => ({
            label,
            points: applyFunctions(target, dump.get(name) ?? []),
          })),
        ),
      }));
      const svg = renderDashboard(panels, started - 1, ended + 1);
      const svgFile = join(work, 'self-metrics.svg');
      const pngFile = join(work, 'self-metrics.png');
      writeFileSync(svgFile, svg);
      await run(RSVG, ['--format', 'png', '--output', pngFile, svgFile]);
      const png = readFileSync(pngFile);
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(png.readUInt32BE(16)).toBe(WIDTH);
      if (UPDATE) copyFileSync(pngFile, PICTURE);
    },
  );
});

// ---- A small SVG drawing of the panels, in Grafana's dark colours.

const WIDTH = 1200;
const COLUMNS = 2;
const PANEL_HEIGHT = 190;
const GAP = 10;
const COLORS = ['#73bf69', '#fade2a', '#5794f2', '#ff9830', '#f2495c', '#b877d9'];

interface DrawnPanel {
  title: string;
  unit: string;
  bars: boolean;
  series: Array<{ label: string; points: Point[] }>;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, 19);

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) ?? 10) * magnitude;
}

function formatValue(value: number, unit: string): string {
  const text = value >= 10_000 ? `${Math.round(value / 1000)}k` : Number.isInteger(value) ? String(value) : value.toFixed(1);
  return unit === 'short' || unit === '' ? text : `${text} ${unit}`;
}

function renderDashboard(panels: DrawnPanel[], from: number, until: number): string {
  const panelWidth = (WIDTH - GAP * (COLUMNS + 1)) / COLUMNS;
  const rows = Math.ceil(panels.length / COLUMNS);
  const height = 44 + rows * (PANEL_HEIGHT + GAP);
  const labels = [...new Set(panels.flatMap((p) => p.series.map((s) => s.label.split('.')[0]!)))].sort();
  const colorOf = (label: string) =>
    COLORS[(labels.indexOf(label.split('.')[0]!) * 2 + (label.includes('.') && label.endsWith('reconnects') ? 1 : 0)) % COLORS.length]!;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#111217"/>`,
    `<text x="${GAP}" y="28" fill="#d8d9da" font-size="17">graphite-pollers — self-metrics of two jobs ` +
      `(${clock(from)}–${clock(until)} UTC), from whisper</text>`,
  ];
  panels.forEach((panel, i) => {
    const x0 = GAP + (i % COLUMNS) * (panelWidth + GAP);
    const y0 = 44 + Math.floor(i / COLUMNS) * (PANEL_HEIGHT + GAP);
    const plot = { x: x0 + 64, y: y0 + 34, w: panelWidth - 64 - 200, h: PANEL_HEIGHT - 34 - 26 };
    const top = niceMax(Math.max(0, ...panel.series.flatMap((s) => s.points.map(([, v]) => v))));
    const px = (t: number) => plot.x + ((t - from) / (until - from)) * plot.w;
    const py = (v: number) => plot.y + plot.h - (v / top) * plot.h;
    out.push(`<rect x="${x0}" y="${y0}" width="${panelWidth}" height="${PANEL_HEIGHT}" rx="3" fill="#181b1f" stroke="#2c3235"/>`);
    out.push(`<text x="${x0 + 10}" y="${y0 + 21}" fill="#d8d9da" font-size="13" font-weight="bold">${xml(panel.title)}</text>`);
    // Points outside the time range (a summarize bucket starting earlier) are cut at the plot's edges.
    out.push(`<clipPath id="plot${i}"><rect x="${plot.x}" y="${plot.y - 2}" width="${plot.w}" height="${plot.h + 4}"/></clipPath>`);
    for (const f of [0, 0.5, 1]) {
      out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${py(top * f)}" y2="${py(top * f)}" stroke="#2c3235"/>`);
      out.push(
        `<text x="${plot.x - 6}" y="${py(top * f) + 4}" fill="#8e8e8e" font-size="10" ` +
          `text-anchor="end">${xml(formatValue(top * f, panel.unit))}</text>`,
      );
    }
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const t = from + (until - from) * f;
      out.push(`<text x="${px(t)}" y="${plot.y + plot.h + 16}" fill="#8e8e8e" font-size="10" text-anchor="middle">${clock(t)}</text>`);
    }
    panel.series.forEach((series, s) => {
      const color = colorOf(series.label);
      if (panel.bars) {
        for (const [t, v] of series.points) {
          if (v > 0)
            out.push(
              `<line clip-path="url(#plot${i})" x1="${px(t) + s}" x2="${px(t) + s}" y1="${py(0)}" y2="${py(v)}" ` +
                `stroke="${color}" stroke-width="2"/>`,
            );
        }
      } else {
        // A gap in the data (no point for more than two steps) is a gap in the line, as in Grafana.
        const step = Math.max(1, Math.min(...series.points.slice(1).map(([t], k) => t - series.points[k]![0])));
        let run: string[] = [];
        const flush = () => {
          if (run.length > 1)
            out.push(`<polyline clip-path="url(#plot${i})" fill="none" stroke="${color}" stroke-width="1.5" points="${run.join(' ')}"/>`);
          else if (run.length === 1)
            out.push(
              `<circle clip-path="url(#plot${i})" cx="${run[0]!.split(',')[0]}" cy="${run[0]!.split(',')[1]}" r="1.5" fill="${color}"/>`,
            );
          run = [];
        };
        series.points.forEach(([t, v], k) => {
          if (k > 0 && t - series.points[k - 1]![0] > step * 2) flush();
          run.push(`${px(t).toFixed(1)},${py(v).toFixed(1)}`);
        });
        flush();
      }
      const max = Math.max(0, ...series.points.map(([, v]) => v));
      const ly = plot.y + 6 + s * 16;
      out.push(`<rect x="${plot.x + plot.w + 14}" y="${ly - 8}" width="10" height="3" fill="${color}"/>`);
      out.push(
        `<text x="${plot.x + plot.w + 30}" y="${ly - 3}" fill="#d8d9da" font-size="10">${xml(series.label)} ` +
          `(max ${xml(formatValue(max, panel.unit))})</text>`,
      );
    });
  });
  out.push('</svg>');
  return out.join('\n');
}
