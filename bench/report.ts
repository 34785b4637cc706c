// The shape every benchmark reports in: sections of figures, each beside its target, printed and rendered as Markdown.

/** How a figure compares with its target. */
export type Verdict = 'pass' | 'miss' | 'info' | 'skipped';

export interface Figure {
  /** What was measured, e.g. "writer / raw socket". */
  name: string;
  /** The measured value, formatted for people, e.g. "1.26x" or "3.96 M points/s". */
  value: string;
  /** The target, formatted, e.g. ">= 0.70x"; empty for figures shown for context. */
  target?: string;
  verdict: Verdict;
  /** By how much it passes or misses, e.g. "+80%" or "-12% (…why)". */
  margin?: string;
}

export interface Section {
  title: string;
  /** One or two sentences on how the figures were measured. */
  method: string;
  figures: Figure[];
  /** Extra Markdown after the figures, one line each (leave an empty string between paragraphs). */
  notes?: string[];
}

/** A figure with a lower bound: value >= target passes; the margin is the relative distance. */
export function atLeast(name: string, value: number, target: number, format: (n: number) => string): Figure {
  const pass = value >= target;
  return { name, value: format(value), target: `>= ${format(target)}`, verdict: pass ? 'pass' : 'miss', margin: relative(value, target) };
}

/** A figure with an upper bound: value <= target passes (value < target when `strict`). */
export function atMost(name: string, value: number, target: number, format: (n: number) => string, strict = false): Figure {
  const pass = strict ? value < target : value <= target;
  return {
    name,
    value: format(value),
    target: `${strict ? '<' : '<='} ${format(target)}`,
    verdict: pass ? 'pass' : 'miss',
    margin: relative(value, target),
  };
}

/** A figure that must equal its target exactly (counts). */
export function exactly(name: string, value: number, target: number, format: (n: number) => string = count): Figure {
  const diff = value - target;
  return {
    name,
    value: format(value),
    target: `= ${format(target)}`,
    verdict: diff === 0 ? 'pass' : 'miss',
    margin: diff === 0 ? 'exact' : `${diff > 0 ? '+' : ''}${format(diff)} (${relative(value, target)})`,
  };
}

export function info(name: string, value: string): Figure {
  return { name, value, verdict: 'info' };
}

export function skipped(name: string, reason: string, target?: string): Figure {
  return { name, value: '—', ...(target ? { target } : {}), verdict: 'skipped', margin: reason };
}

function relative(value: number, target: number): string {
  if (target === 0) return value === 0 ? 'exact' : `+${value}`;
  const percent = ((value - target) / Math.abs(target)) * 100;
  if (Math.abs(percent) < 0.05) return 'exact';
  return `${percent > 0 ? '+' : ''}${percent.toFixed(Math.abs(percent) < 10 ? 1 : 0)}%`;
}

// --- formats ------------------------------------------------------------------------------------------

export const count = (n: number): string => Math.round(n).toLocaleString('en-US');
export const ratio = (n: number): string => `${n.toFixed(2)}x`;
export const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ms`;
export const seconds = (n: number): string => `${n.toFixed(n < 10 ? 2 : 1)} s`;
export const megabytes = (n: number): string => `${n.toFixed(0)} MB`;
export const perSecond = (n: number, unit = 'points/s'): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M ${unit}` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} k ${unit}` : `${n.toFixed(0)} ${unit}`;
export const usd = (n: number): string =>
  `$${n.toLocaleString('en-US', n < 1000 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumFractionDigits: 0 })}`;

// --- output -------------------------------------------------------------------------------------------

const MARK: Record<Verdict, string> = { pass: 'pass', miss: 'MISS', info: '', skipped: 'skipped' };

/** The section as console lines: one per figure, aligned. */
export function formatText(section: Section): string {
  const width = Math.max(...section.figures.map((f) => f.name.length), 10);
  const valueWidth = Math.min(16, Math.max(...section.figures.map((f) => f.value.length), 6));
  const lines = [`## ${section.title}`];
  for (const f of section.figures) {
    const judged = f.verdict === 'info' ? '' : `  target ${f.target ?? '-'}  ${MARK[f.verdict]}${f.margin ? ` (${f.margin})` : ''}`;
    lines.push(`  ${f.name.padEnd(width)}  ${f.value.padStart(valueWidth)}${judged}`);
  }
  return lines.join('\n');
}

/** The section as Markdown: a heading, the method, a table, the notes. */
export function formatMarkdown(section: Section): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const rows = section.figures.map((f) => {
    const result = f.verdict === 'info' ? '' : f.verdict === 'pass' ? '**pass**' : f.verdict === 'miss' ? '**miss**' : 'skipped';
    return `| ${escape(f.name)} | ${escape(f.value)} | ${escape(f.target ?? '')} | ${result} | ${escape(f.margin ?? '')} |`;
  });
  return [
    `## ${section.title}`,
    '',
    section.method,
    '',
    '| figure | measured | target | result | margin |',
    '|---|---:|---|---|---|',
    ...rows,
    ...(section.notes?.length ? ['', section.notes.join('\n')] : []),
  ].join('\n');
}
