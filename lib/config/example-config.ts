// Checks config/<poller>.example.yaml against the poller's schema: every option shown with its description and default.
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { Poller } from '../poller-kit/contract.ts';
import { documentOptions, jobSchema, type OptionDoc } from './job-options.ts';

/**
 * How an example config declares an option, at the start of a line:
 *   `key: value` (set: required options, and values that differ from the default), or
 *   `# key: value` (shown commented out: the default, or an optional setting), YAML continued on the lines below
 *   that start with `#` and two or more spaces (`#   - item`).
 * The comment lines right above the first declaration of a key (up to a blank line) document it: they contain
 * the schema's .describe() text, and may go on with more. The leading comment block of the file, up to its first
 * blank line, introduces the poller and declares nothing. Any other comment line that starts with a lowercase
 * word and a colon is read as a declaration, so prose never begins a line that way.
 */
const SET = /^([A-Za-z_][\w-]*)\s*:(?:\s|$)/;
const SHOWN = /^# ([a-z][\w-]*):(?: |$)/;
const CONTINUED = /^# {2,}\S|^# - /;

interface Declaration {
  key: string;
  /** 1-based line number. */
  line: number;
  commented: boolean;
  /** The YAML of the declaration, uncommented (commented declarations only). */
  yaml?: string;
  /** The comment lines right above it, without their `#`. */
  doc: string[];
}

/** The problems of an example config, one line each (`<line>: <what>`), empty when it documents its schema exactly. */
export function checkExampleConfig(poller: Poller, text: string): string[] {
  const options = documentOptions(poller);
  const shape = jobSchema(poller).shape as Record<string, z.ZodType>;
  const declarations = readDeclarations(text);
  const problems: string[] = [];
  const byKey = new Map<string, Declaration[]>();
  for (const declaration of declarations) {
    if (!(declaration.key in shape)) {
      const how = declaration.commented ? `"# ${declaration.key}:"` : `"${declaration.key}:"`;
      problems.push(
        `line ${declaration.line}: ${how} is not an option of ${poller.name}` +
          (declaration.commented ? ' (a comment line starting with a lowercase word and a colon declares an option: reword it)' : ''),
      );
      continue;
    }
    byKey.set(declaration.key, [...(byKey.get(declaration.key) ?? []), declaration]);
    if (declaration.commented) problems.push(...checkShownValue(declaration, shape[declaration.key]!));
  }
  for (const option of options) {
    const shown = byKey.get(option.key) ?? [];
    if (shown.length === 0) {
      problems.push(`${option.key}: not shown (expected its description in a comment, then "${exampleLine(option)}")`);
      continue;
    }
    const first = shown[0]!;
    if (option.description && !normalize(first.doc.join(' ')).includes(normalize(option.description))) {
      const expected = JSON.stringify(option.description);
      problems.push(`line ${first.line}: the comment above ${option.key} does not contain its description: ${expected}`);
    }
    if (option.required && !shown.some((d) => !d.commented)) {
      problems.push(`line ${first.line}: ${option.key} is required: set it (uncommented), so the example is a working config`);
    }
    if (option.default !== undefined) {
      const defaults = shown.filter((d) => d.commented && isDeepStrictEqual(parsedValue(d, shape[option.key]!), option.default));
      if (defaults.length === 0) {
        problems.push(`line ${first.line}: the default of ${option.key} is not shown: expected "${exampleLine(option)}"`);
      }
    }
  }
  return problems;
}

/** A commented declaration whose value the schema refuses (a stale format, a misspelt value). */
function checkShownValue(declaration: Declaration, schema: z.ZodType): string[] {
  let value: unknown;
  try {
    value = (parseYaml(declaration.yaml!) as Record<string, unknown>)[declaration.key];
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    return [`line ${declaration.line}: "# ${declaration.key}:" is not valid YAML once uncommented (${reason})`];
  }
  // ${VAR} is replaced when a config is loaded, not here: such values are not checked.
  if (JSON.stringify(value ?? null).includes('${')) return [];
  const result = schema.safeParse(value);
  if (result.success) return [];
  const reason = result.error.issues[0]?.message ?? 'invalid';
  return [`line ${declaration.line}: "# ${declaration.key}:" shows a value the schema refuses: ${reason}`];
}

/** The value a commented declaration stands for, parsed by the option's schema (`5m` → 300); undefined when invalid. */
function parsedValue(declaration: Declaration, schema: z.ZodType): unknown {
  try {
    const value = (parseYaml(declaration.yaml!) as Record<string, unknown>)[declaration.key];
    const result = schema.safeParse(value);
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

function readDeclarations(text: string): Declaration[] {
  const lines = text.split('\n');
  // The introduction: the leading comment block, up to the first line that is not a comment.
  let start = 0;
  while (start < lines.length && lines[start]!.startsWith('#')) start++;
  const declarations: Declaration[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    const set = SET.exec(line);
    const shown = set ? undefined : SHOWN.exec(line);
    if (!set && !shown) continue;
    const doc: string[] = [];
    for (let j = i - 1; j >= start && lines[j]!.startsWith('#'); j--) doc.unshift(lines[j]!.replace(/^#\s?/, ''));
    if (set) {
      declarations.push({ key: set[1]!, line: i + 1, commented: false, doc });
      continue;
    }
    const yaml = [line.slice(2)];
    while (i + 1 < lines.length && CONTINUED.test(lines[i + 1]!)) yaml.push(lines[++i]!.slice(2));
    declarations.push({ key: shown![1]!, line: i + 2 - yaml.length, commented: true, yaml: yaml.join('\n'), doc });
  }
  return declarations;
}

function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The line that shows an option: `# key: <default>` (the default in YAML), or `key: …` for a required one. */
export function exampleLine(option: OptionDoc, shown?: string): string {
  if (option.required) return `${option.key}: ${shown ?? '…'}`;
  const value = shown ?? (option.default === undefined ? '…' : yamlValue(option.default));
  return `# ${option.key}: ${value}`;
}

function yamlValue(value: unknown): string {
  return typeof value === 'string' && /^[\w./{}-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The documentation of one option as an example config shows it: its description wrapped into comment lines,
 * then its example line. `shown` replaces the default (`5m` rather than 300).
 */
export function exampleBlock(option: OptionDoc, shown?: string, width = 110): string {
  return `${wrapComment(option.description, width)}\n${exampleLine(option, shown)}\n`;
}

/** `text` as `# ` comment lines of at most `width` characters (a longer word gets a line of its own). */
export function wrapComment(text: string, width = 110): string {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join('\n');
}
