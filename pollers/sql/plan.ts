// `--plan` for sql jobs: each query, the parameters it takes and whether it has history, without connecting.
import { formatDuration, type JobSchedule, type PollPlan } from '../../lib/poller-kit/index.ts';
import { maskUrl } from './database.ts';
import { dialectOf, statementTimeoutMs, type SqlOptions } from './options.ts';
import { rewriteParameters } from './parameters.ts';

export function planQueries(options: SqlOptions, schedule: JobSchedule): PollPlan {
  const dialect = dialectOf(options.url)!;
  const timeout = statementTimeoutMs(options, schedule.interval) / 1000;
  const queries = options.queries.length;
  const plan: PollPlan = {
    summary: [
      `database: ${maskUrl(options.url)} (${dialect === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'}), ` +
        `pool of ${options.poolSize}, read-only transactions`,
    ],
    requests: [
      {
        what: 'queries',
        singular: 'query',
        perTick: queries,
        perHour: Math.ceil((queries * 3600) / schedule.interval),
        note:
          `every ${formatDuration(schedule.interval)}, ` +
          `each at most ${options.maxRows} rows and ${formatDuration(timeout)} (statement timeout)`,
      },
    ],
    parts: [{ title: 'queries', parts: [] }],
    notes: [],
  };
  let windowed = 0;
  for (const query of options.queries) {
    const { parameters, usesWindow } = rewriteParameters(query.sql, dialect);
    if (usesWindow) windowed++;
    const names = [...new Set(parameters)].map((p) => `:${p}`);
    const history = usesWindow
      ? `history: yes, one point per row at ${query.timestamp ? `its ${query.timestamp}` : 'the window start'}`
      : 'history: no (a snapshot at every tick)';
    plan.parts![0]!.parts.push({
      label: `query ${query.name}`,
      notes: [`parameters ${names.length > 0 ? names.join(', ') : 'none'}`, history, `values ${query.values.join(', ')} → ${query.path}`],
    });
  }
  plan.notes!.push(
    windowed > 0
      ? `history: ${windowed} of ${options.queries.length} queries; windows on multiples of ${formatDuration(options.step)}, ` +
          `backfill in windows of ${formatDuration(options.maxWindow)}, back to ${formatDuration(options.retention)}`
      : 'history: none (every query is a snapshot): this job cannot be backfilled',
  );
  return plan;
}
