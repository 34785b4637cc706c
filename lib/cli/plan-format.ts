// `--plan`: the one writer of every poller's plan (requests, datapoints, cost, quota, parts), the same way for each.
import type { PlanCost, PlanPart, PlanQuota, PlanRate, PollPlan } from '../poller-kit/contract.ts';

/** The plan's lines, in a fixed order: summary, requests, datapoints, cost, quota, parts, notes, warnings. */
export function formatPlan(plan: PollPlan): string[] {
  const lines = [...plan.summary];
  for (const rate of plan.requests ?? []) lines.push(`requests: ${formatRate(rate)}`);
  for (const rate of plan.datapoints ?? []) lines.push(`datapoints: ${formatRate(rate)}`);
  for (const cost of plan.cost ?? []) lines.push(`cost: ${formatCost(cost)}`);
  for (const quota of plan.quota ?? []) lines.push(`quota: ${formatQuota(quota)}`);
  for (const group of plan.parts ?? []) {
    lines.push(`${group.title}:`);
    for (const part of group.parts) lines.push(`  ${formatPart(part)}`);
  }
  lines.push(...(plan.notes ?? []));
  for (const warning of plan.warnings ?? []) lines.push(`warning: ${warning}`);
  return lines;
}

/** A whole number with thousands separators ("8,760,000"). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const PERIODS = [
  ['perTick', 'tick'],
  ['perHour', 'hour'],
  ['perDay', 'day'],
  ['perMonth', 'month'],
] as const;

/** "1,000 queries per tick, 8,760,000 per month (one per series and statistic)". */
export function formatRate(rate: PlanRate): string {
  const figures = PERIODS.flatMap(([field, period]) => (rate[field] === undefined ? [] : [{ value: rate[field], period }]));
  const about = rate.estimate ? '~' : '';
  const text = figures
    .map(({ value, period }, i) => `${about}${formatCount(value)}${i === 0 ? nameOf(rate, value) : ''} per ${period}`)
    .join(', ');
  return text + (rate.note ? ` (${rate.note})` : '');
}

/** " GetMetricData calls" after the first figure ("" when the section names it). */
function nameOf(rate: PlanRate, value: number): string {
  if (!rate.what) return '';
  return ` ${Math.round(value) === 1 && rate.singular ? rate.singular : rate.what}`;
}

/** "USD 87.60 per month for GetMetricData (an estimate at the list price …)". */
export function formatCost(cost: PlanCost): string {
  const amount = cost.amount < 1000 ? cost.amount.toFixed(2) : formatCount(cost.amount);
  return `${cost.currency} ${amount} per ${cost.per} for ${cost.what} (${cost.basis})`;
}

/** "~28,800 of 200,000 realtime tokens per day (14%), per project". */
export function formatQuota(quota: PlanQuota): string {
  const about = quota.estimate ? '~' : '';
  const scope = quota.scope ? `, ${quota.scope}` : '';
  const share = percent(quota.used, quota.limit);
  return `${about}${formatCount(quota.used)} of ${formatCount(quota.limit)} ${quota.what} per ${quota.per} (${share})${scope}`;
}

/** "12%", "<1%" for a share that is not nothing but rounds to it. */
export function percent(used: number, limit: number): string {
  const share = (100 * used) / limit;
  return `${share > 0 && share < 1 ? '<1' : formatCount(share)}%`;
}

/**
 * "eu-west-1 as arn:…: 500 queries, 1 GetMetricData call per tick": figures that are all per tick share one
 * "per tick"; other figures are written out one by one; notes follow, "; "-separated.
 */
function formatPart(part: PlanPart): string {
  const rates = part.requests ?? [];
  const perTickOnly = rates.every(
    (r) => r.perTick !== undefined && r.perHour === undefined && r.perDay === undefined && r.perMonth === undefined && !r.note,
  );
  const figures =
    rates.length === 0
      ? []
      : perTickOnly
        ? [`${rates.map((r) => `${r.estimate ? '~' : ''}${formatCount(r.perTick!)}${nameOf(r, r.perTick!)}`).join(', ')} per tick`]
        : rates.map(formatRate);
  return `${part.label}: ${[...figures, ...(part.notes ?? [])].join('; ')}${part.current ? '  <- this one' : ''}`;
}
