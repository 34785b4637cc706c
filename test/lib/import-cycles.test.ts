// lib/ has no import cycles: each room builds on the ones below it (type-only imports count: they are a dependency too).
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LIB = resolve(import.meta.dirname, '..', '..', 'lib');

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...tsFiles(full));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}

/** The files a source imports by relative path (`from '…'`, `import('…')`, `import '…'`), comments left out. */
function relativeImports(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const pattern = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  const found: string[] = [];
  for (const match of code.matchAll(pattern)) {
    const specifier = (match[1] ?? match[2] ?? match[3])!;
    if (specifier.startsWith('.')) found.push(resolve(dirname(file), specifier));
  }
  return found;
}

/** The import cycles among the .ts files under `root`, each as `a.ts -> b.ts -> a.ts` (paths relative to root). */
function importCycles(root: string): string[] {
  const files = tsFiles(root);
  const graph = new Map(files.map((file) => [file, relativeImports(file).filter((target) => target.startsWith(root))]));
  const cycles: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string) => {
    if (onPath.has(file)) {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(root, f)).join(' -> '));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    onPath.add(file);
    for (const target of graph.get(file) ?? []) visit(target);
    onPath.delete(file);
    path.pop();
    done.add(file);
  };
  for (const file of files.sort()) visit(file);
  return cycles;
}

describe('imports among lib/ files', () => {
  it('form no cycle', () => {
    expect(tsFiles(LIB).length).toBeGreaterThan(40);
    expect(importCycles(LIB)).toEqual([]);
  });

  it('a cycle is found, type-only imports and nested folders included', () => {
    const root = mkdtempSync(join(tmpdir(), 'gp-cycles-'));
    try {
      mkdirSync(join(root, 'graphite'));
      const write = (file: string, ...lines: string[]) => writeFileSync(join(root, file), lines.join('\n'));
      write('graphite/writer.ts', "import { Tcp } from './tcp-writer.ts';", 'export const x = Tcp;');
      write('graphite/tcp-writer.ts', "import { QueuedWriter } from './queued-writer.ts';", 'export class Tcp extends QueuedWriter {}');
      write('graphite/queued-writer.ts', "import type { Writer } from './writer.ts';", 'export class QueuedWriter {}');
      write('clock.ts', "// import { x } from './graphite/writer.ts';", 'export const now = 1;');
      expect(importCycles(root)).toEqual([
        'graphite/queued-writer.ts -> graphite/writer.ts -> graphite/tcp-writer.ts -> graphite/queued-writer.ts',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
