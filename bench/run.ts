// `npm run bench`: every benchmark in one run, each figure beside its target, then docs/performance.md rewritten.
// Never part of `npm test`. `npm run bench -- writer ticks` runs some (scale: bench/cloudwatch-scale.ts) and leaves the document alone;
// BENCH_TICKS sets the number of real-clock ticks (default 1,000, the target's: about 2.5 minutes).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import benchApiCalls from './api-calls.ts';
import benchBackfillPipeline from './backfill-pipeline.ts';
import benchJobCost from './job-cost.ts';
import { atMost, exactly, formatMarkdown, formatText, info, megabytes, seconds, type Section } from './report.ts';
import benchStartup from './startup.ts';
import benchTicks, { TARGET_TICKS } from './ticks.ts';
import benchWriterCarbon from './writer-carbon.ts';
import benchRemoteWriters from './writer-remote.ts';
import benchWriter from './writer.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DOCUMENT = join(ROOT, 'docs', 'performance.md');
const SCALE_BENCH = join(ROOT, 'bench', 'cloudwatch-scale.ts');

const BENCHES: Array<{ name: string; run: () => Promise<Section> }> = [
  { name: 'writer', run: benchWriter },
  { name: 'carbon', run: benchWriterCarbon },
  { name: 'remote', run: benchRemoteWriters },
  { name: 'backfill', run: benchBackfillPipeline },
  { name: 'ticks', run: () => benchTicks(ticks()) },
  { name: 'api', run: benchApiCalls },
  { name: 'startup', run: benchStartup },
  { name: 'cost', run: benchJobCost },
];

function ticks(): number {
  const value = Number(process.env.BENCH_TICKS ?? TARGET_TICKS);
  if (!Number.isInteger(value) || value < 2)
    throw new Error(`BENCH_TICKS must be a whole number of at least 2, got ${process.env.BENCH_TICKS}`);
  return value;
}

const SCALE_TITLE = 'CloudWatch at scale';
const PROSE_START =
  '<!-- bench/cloudwatch-scale.ts: the text below, to the closing comment, is kept as written when npm run bench rewrites this file -->';
const PROSE_END = '<!-- end of the kept text -->';

/** What bench/cloudwatch-scale.ts (issue 10) returns, as far as this document uses it. */
interface ScaleFigures {
  pairs: number;
  queries: number;
  wallMs: number;
  peakRssMb: number;
  getMetricDataCalls: number;
  callsPerPair: [number, number];
  expectedCallsPerPair: number;
  exitCode: number | null;
  shards?: { queries: number };
}

function isScaleFigures(value: unknown): value is ScaleFigures {
  const f = value as Partial<ScaleFigures> | undefined;
  return !!f && typeof f.wallMs === 'number' && Array.isArray(f.callsPerPair) && typeof f.expectedCallsPerPair === 'number';
}

/**
 * The text of the "CloudWatch at scale" section as its author wrote it in the current document: between the
 * markers, or (before the first generated run) everything under its heading.
 */
function keptScaleProse(): string | undefined {
  if (!existsSync(DOCUMENT)) return undefined;
  const text = readFileSync(DOCUMENT, 'utf8');
  const marked = text.indexOf(PROSE_START);
  if (marked >= 0) {
    const end = text.indexOf(PROSE_END, marked);
    return text.slice(marked + PROSE_START.length, end < 0 ? undefined : end).trim();
  }
  const heading = text.indexOf(`## ${SCALE_TITLE}`);
  if (heading < 0) return undefined;
  const body = text.slice(heading + SCALE_TITLE.length + 3);
  const next = body.search(/\n## /);
  return (next < 0 ? body : body.slice(0, next)).trim() || undefined;
}

/**
 * The "CloudWatch at scale" section comes from bench/cloudwatch-scale.ts (issue 10) when that file exists: its
 * default export is called. Its figures are judged against issue 10's targets (one --once within a 60 s
 * interval, calls per region and account at ceil(queries / 500)); the section's text is its author's, kept from
 * the document as written, followed by the run's own printout (its `formatScaleFigures`). A string returned is
 * taken as the whole section's Markdown, a Section is rendered like the others.
 */
async function scaleSection(): Promise<Section | string> {
  if (!existsSync(SCALE_BENCH)) {
    return (
      `## ${SCALE_TITLE}\n\nNot measured yet: this section will come from \`bench/cloudwatch-scale.ts\` (issue 10), ` +
      `which \`npm run bench\` runs as soon as that file exists.`
    );
  }
  const prose = keptScaleProse();
  try {
    const module = (await import(pathToFileURL(SCALE_BENCH).href)) as {
      default?: () => Promise<unknown>;
      formatScaleFigures?: (figures: never) => string;
    };
    const result = typeof module.default === 'function' ? await module.default() : undefined;
    if (typeof result === 'string') return result.trim();
    if (isSection(result)) return result;
    if (!isScaleFigures(result)) throw new Error('its default export returned neither figures, a Section nor Markdown');
    const printed = module.formatScaleFigures ? module.formatScaleFigures(result as never) : JSON.stringify(result, null, 2);
    return {
      title: SCALE_TITLE,
      method:
        `\`bench/cloudwatch-scale.ts\` (issue 10): one real \`bin/poll.ts cloudwatch --once\` over ${result.pairs} region and ` +
        `account pairs and ${result.queries.toLocaleString('en-US')} queries against the AWS fake, then the same job as two shards. ` +
        `Its author's account of the method and of earlier runs follows the figures.`,
      figures: [
        atMost('--once wall time, process start to exit', result.wallMs / 1000, 60, seconds),
        exactly('GetMetricData calls per region and account, fewest', result.callsPerPair[0], result.expectedCallsPerPair),
        exactly('GetMetricData calls per region and account, most', result.callsPerPair[1], result.expectedCallsPerPair),
        ...(result.shards ? [exactly('queries of the two shards together', result.shards.queries, result.queries)] : []),
        info('peak RSS of the poller process', megabytes(result.peakRssMb)),
        info('GetMetricData calls in all', String(result.getMetricDataCalls)),
      ],
      notes: [
        ...(prose ? [PROSE_START, '', prose, '', PROSE_END, ''] : []),
        'As `bench/cloudwatch-scale.ts` printed it in this run:',
        '',
        '```',
        printed,
        '```',
      ],
    };
  } catch (error) {
    return (
      `## ${SCALE_TITLE}\n\n\`bench/cloudwatch-scale.ts\` failed in this run: ${(error as Error).message.split('\n')[0]}` +
      (prose ? `\n\n${PROSE_START}\n\n${prose}\n\n${PROSE_END}` : '')
    );
  }
}

function isSection(value: unknown): value is Section {
  const section = value as Partial<Section> | undefined;
  return !!section && typeof section.title === 'string' && Array.isArray(section.figures);
}

function summary(sections: readonly Section[]): string {
  const rows = sections.map((section) => {
    const judged = section.figures.filter((f) => f.verdict === 'pass' || f.verdict === 'miss');
    const misses = judged.filter((f) => f.verdict === 'miss');
    const skipped = section.figures.filter((f) => f.verdict === 'skipped');
    const result =
      judged.length === 0 && skipped.length > 0
        ? `skipped: ${skipped.map((f) => f.margin).join('; ')}`
        : misses.length === 0
          ? `**pass** (${judged.length} of ${judged.length} figures)`
          : `**miss** (${judged.length - misses.length} of ${judged.length} figures pass): ` +
            `${misses.map((f) => `${f.name}, ${f.value} for ${f.target}`).join('; ')}`;
    const anchor = section.title
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replace(/ /g, '-');
    return `| [${section.title}](#${anchor}) | ${result} |`;
  });
  return ['| target | result on this machine |', '|---|---|', ...rows].join('\n');
}

function machine(): string {
  const cpu = cpus();
  return (
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node.js ${process.version}, ${process.platform}`
  );
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => name !== 'scale' && !BENCHES.some((b) => b.name === name));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(', ')}; one of ${BENCHES.map((b) => b.name).join(', ')}, scale`);
  const started = new Date();
  const sections: Section[] = [];
  for (const bench of BENCHES) {
    if (only.length > 0 && !only.includes(bench.name)) continue;
    const began = performance.now();
    console.log(`\n(${bench.name}…)`);
    const section = await bench.run();
    sections.push(section);
    console.log(formatText(section) + `\n  (${((performance.now() - began) / 1000).toFixed(0)} s)`);
  }
  if (only.length > 0 && !only.includes('scale')) return;
  console.log(`\n(${SCALE_TITLE}…)`);
  const scale = await scaleSection();
  if (typeof scale !== 'string') {
    sections.push(scale);
    console.log(formatText(scale));
  } else console.log(scale);
  if (only.length > 0) return;
  const document = [
    '# Performance',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${started.toISOString().slice(0, 10)}, on ${machine()}. ` +
      'Re-run it to measure your machine; it rewrites this file. These machines are shared and noisy, so where it can, ' +
      'each figure is a ratio of two things measured side by side in the same run, and absolute figures are the best of ' +
      'a few runs. A **miss** says by how much, and the section says why.',
    '',
    summary(sections),
    '',
    ...sections.flatMap((section) => [formatMarkdown(section), '']),
    ...(typeof scale === 'string' ? [scale, ''] : []),
  ].join('\n');
  writeFileSync(DOCUMENT, document);
  console.log(`\nwrote ${DOCUMENT}`);
}

await main();
