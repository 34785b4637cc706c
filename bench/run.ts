// `npm run bench`: every benchmark in one run, each figure beside its target, then docs/performance.md rewritten.
// Never part of `npm test`. `npm run bench -- writer ticks` runs some (and leaves the document alone);
// BENCH_TICKS sets the number of real-clock ticks (default 1,000, the target's: about 2.5 minutes).
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import benchApiCalls from './api-calls.ts';
import benchBackfillPipeline from './backfill-pipeline.ts';
import { formatMarkdown, formatText, type Section } from './report.ts';
import benchStartup from './startup.ts';
import benchTicks, { TARGET_TICKS } from './ticks.ts';
import benchWriterCarbon from './writer-carbon.ts';
import benchWriter from './writer.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DOCUMENT = join(ROOT, 'docs', 'performance.md');
const SCALE_BENCH = join(ROOT, 'bench', 'cloudwatch-scale.ts');

const BENCHES: Array<{ name: string; run: () => Promise<Section> }> = [
  { name: 'writer', run: benchWriter },
  { name: 'carbon', run: benchWriterCarbon },
  { name: 'backfill', run: benchBackfillPipeline },
  { name: 'ticks', run: () => benchTicks(ticks()) },
  { name: 'api', run: benchApiCalls },
  { name: 'startup', run: benchStartup },
];

function ticks(): number {
  const value = Number(process.env.BENCH_TICKS ?? TARGET_TICKS);
  if (!Number.isInteger(value) || value < 2) throw new Error(`BENCH_TICKS must be a whole number of at least 2, got ${process.env.BENCH_TICKS}`);
  return value;
}

/**
 * The "CloudWatch at scale" section comes from bench/cloudwatch-scale.ts (issue 10) when that file exists. Its
 * default export is called; a string it returns is taken as the section's Markdown (starting with its `## `
 * heading), a Section object is rendered like the others; anything else, its console output is quoted.
 */
async function scaleSection(): Promise<string> {
  if (!existsSync(SCALE_BENCH)) {
    return '## CloudWatch at scale\n\nNot measured yet: this section will come from `bench/cloudwatch-scale.ts` (issue 10), which `npm run bench` runs as soon as that file exists.';
  }
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
    log(...args);
  };
  try {
    const module = (await import(pathToFileURL(SCALE_BENCH).href)) as { default?: unknown };
    const result: unknown = typeof module.default === 'function' ? await (module.default as () => unknown)() : undefined;
    if (typeof result === 'string') return result.trim();
    if (isSection(result)) return formatMarkdown(result);
    return ['## CloudWatch at scale', '', 'As printed by `bench/cloudwatch-scale.ts`:', '', '```', ...printed, '```'].join('\n');
  } catch (error) {
    return `## CloudWatch at scale\n\n\`bench/cloudwatch-scale.ts\` failed in this run: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    console.log = log;
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
        ? 'skipped'
        : misses.length === 0
          ? `**pass** (${judged.length} of ${judged.length})`
          : `**miss**: ${misses.map((f) => `${f.name} ${f.value} (target ${f.target}, ${f.margin})`).join('; ')}`;
    const anchor = section.title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
    return `| [${section.title}](#${anchor}) | ${result} |`;
  });
  return ['| target | result on this machine |', '|---|---|', ...rows].join('\n');
}

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, ${process.platform}`;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !BENCHES.some((b) => b.name === name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; one of ${BENCHES.map((b) => b.name).join(', ')}`);
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
  if (only.length > 0) return;
  const scale = await scaleSection();
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
    scale,
    '',
  ].join('\n');
  writeFileSync(DOCUMENT, document);
  console.log(`\nwrote ${DOCUMENT}`);
}

await main();
