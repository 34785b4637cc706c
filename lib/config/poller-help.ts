// Text for `--help` and `--list`, generated from the pollers' own schemas (no second copy of the docs).
import { documentOptions, type OptionDoc } from './job-options.ts';
import type { Poller } from '../poller-kit/contract.ts';

export function pollerHelp(poller: Poller, command = 'bin/poll.ts'): string {
  const options = documentOptions(poller);
  const own = options.filter((o) => !o.common);
  const common = options.filter((o) => o.common);
  const lines = [
    `${poller.name}: ${poller.summary}`,
    '',
    `Usage: node --import tsx ${command} ${poller.name} [--config FILE] [--once] [--dry-run]${poller.plan ? ' [--plan]' : ''}`,
    poller.history
      ? `       node --import tsx bin/backfill.ts ${poller.name} --from <ISO|-7d> --to <ISO|now> [--config FILE]`
      : `       (no history: this source cannot be backfilled)`,
    '',
    `Config file: config/${poller.name}.yaml by default (see config/${poller.name}.example.yaml).`,
    '',
    'Options:',
    ...(own.length ? own.map(formatOption) : ['  (none)']),
    '',
    'Options of every job:',
    ...common.map(formatOption),
  ];
  return lines.join('\n');
}

function formatOption(option: OptionDoc): string {
  const notes = [
    option.required ? 'required' : option.default !== undefined ? `default: ${JSON.stringify(option.default)}` : undefined,
    option.values ? `one of ${option.values.map((value) => JSON.stringify(value)).join(', ')}` : undefined,
  ].filter((note) => note !== undefined);
  const tail = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  return `  ${option.key}${tail}\n      ${option.description || '(undocumented)'}`;
}

export function pollerList(pollers: readonly Poller[]): string {
  const width = Math.max(...pollers.map((p) => p.name.length));
  return pollers.map((p) => `${p.name.padEnd(width)}  ${p.summary}${p.history ? '' : ' (live only)'}`).join('\n');
}
