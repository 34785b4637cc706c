// A command's fatal error: a user's mistake is one line and exit 78, a bug is exit 1 with its stack.
import { expect, it } from 'vitest';
import { reportFatal } from '../../../lib/cli/command-line.ts';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { createLogger } from '../../../lib/poller-kit/logger.ts';

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'info', format: 'text', write: (line) => lines.push(line), secrets: [] }) };
}

it('a configuration error is one line naming file and field, without a stack, exit 78', () => {
  const { lines, log } = capture();
  expect(reportFatal(new ConfigError('expected a number', { file: 'config/x.yaml', field: 'interval' }), log)).toBe(78);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/ERROR config\/x\.yaml: interval: expected a number$/);
});

it('an unexpected error (a bug) prints its stack at the default level, on its one line, exit 1', () => {
  const { lines, log } = capture();
  const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
  expect(reportFatal(bug, log)).toBe(1);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("ERROR fatal: Cannot read properties of undefined (reading 'x')");
  expect(lines[0]).toMatch(/stack=".*TypeError.*\\n\s+at .*command-line\.test\.ts/);
});

it('a thrown non-Error is reported as text, exit 1', () => {
  const { lines, log } = capture();
  expect(reportFatal('boom', log)).toBe(1);
  expect(lines).toEqual([expect.stringMatching(/ERROR fatal: boom$/)]);
});
