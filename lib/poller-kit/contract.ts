// The poller contract: a poller is a pure async function of (options, time window) that emits into a sink.
import { z } from 'zod';
import type { Logger } from './logger.ts';
import type { Shard } from './shard.ts';

/** A half-open time range `[start, end)` in epoch seconds, aligned to the poller's step. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/**
 * A metric path as the poller builds it. A string is a trusted, dotted path written by the poller's author
 * (`'host.load.1m'`); an array is a list of nodes, each of which may come from an API and is sanitized as
 * exactly one node (dots, spaces and control characters inside it can never create another node or line).
 */
export type MetricPath = string | readonly string[];

/** Graphite 1.1 tags (`name;key=value`), written only when tag mode is on; otherwise ignored. */
export type MetricTags = Readonly<Record<string, string>>;

/** Where a poller puts its datapoints. It never sees Graphite's wire format, sockets or queues. */
export interface Sink {
  /** One datapoint; `timestamp` is epoch seconds, the start of the period the value describes. NaN/±Infinity are dropped. */
  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void;
  /**
   * Resolves when the writer has room again. Await it between pages of a large result (backfills push millions).
   * Rejects with the abort reason when the run's signal (or the one given) aborts first: a run ends at its deadline.
   */
  ready(signal?: AbortSignal): Promise<void>;
}

/** Counters and gauges the poller reports about itself, written under `<prefix>.pollers.<job>.<name>`. */
export interface PollStats {
  /** Adds `n` (default 1) to a counter such as `api_calls` or `throttles`. */
  count(name: string, n?: number): void;
  /** Sets a gauge such as `quota.tokens_per_hour_remaining`. */
  gauge(name: string, value: number): void;
}

export interface PollContext<O> {
  /** The job's options, validated against the poller's schema, defaults applied. */
  readonly options: O;
  readonly window: TimeWindow;
  readonly sink: Sink;
  /** Aborted when the run's deadline passes or the process is stopping. Pass it to fetch / SDK calls. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly stats: PollStats;
  /** The job's name (the config file's base name, or the poller's name). */
  readonly job: string;
  /** `live` for ticks of the loop, `backfill` for history (backfill command and catch-up). */
  readonly mode: 'live' | 'backfill';
  /** The `fetch` to use for HTTP; tests inject their own. */
  readonly fetch: typeof globalThis.fetch;
  /** The job's timing (seconds), defaults applied: what the window was derived from. */
  readonly schedule: JobSchedule;
  /** The current time in epoch milliseconds, from the runner's clock (fake in tests). */
  now(): number;
  /**
   * Waits `ms` on the runner's clock (fake in tests): quota waits, throttling backoff. Resolves early when the run's
   * signal aborts (check `signal.aborted` after it), so a wait never outlives the run's deadline.
   */
  sleep(ms: number): Promise<void>;
  /**
   * This process's share of a job split across processes (`--shard i/n`, or SHARD=i/n); undefined when the
   * job is not split. Only given to pollers that declare `sharding: true`; they poll the work items for which
   * `inShard(key, shard)` (lib/poller-kit/shard.ts) holds, keyed by what each item is.
   */
  readonly shard?: Shard | undefined;
}

/** A job's resolved timing in seconds: the poller's defaults overridden by the job's config. */
export interface JobSchedule {
  interval: number;
  delay: number;
  lookback: number;
}

/** Default timing of a poller's jobs, in seconds; every job may override each in its config. */
export interface ScheduleDefaults {
  /** Seconds between ticks; ticks fall on wall-clock multiples of it. */
  interval: number;
  /** How far behind now the live window ends (sources whose data arrives late). */
  delay?: number;
  /** How much earlier than `now - delay` the live window starts (re-fetch to correct revised data). */
  lookback?: number;
}

/** Declared by pollers whose source keeps history: backfill and catch-up use it. */
export interface HistorySupport<O> {
  /** The largest window (seconds) one `poll` call may be asked for; backfill splits ranges by it. */
  maxWindow(options: O): number;
  /** How far back (seconds before now) the source still has data; catch-up never asks for older. */
  retention(options: O): number;
  /** Window boundaries are multiples of this (seconds). Defaults to the job's interval. */
  step?(options: O): number;
  /**
   * The IANA time zone in which a date-only backfill bound (`--from 2026-01-01`) means midnight; UTC when
   * absent. May ask the source (GA4 properties have their own zone).
   */
  timeZone?(options: O, context: { fetch: typeof globalThis.fetch; signal: AbortSignal }): Promise<string>;
}

/**
 * Answer of a poller's optional `plan`: what a tick will cost, without fetching datapoints. The poller gives the
 * figures; lib/cli/plan-format.ts writes them, the same way for every poller. What fits no part goes in `notes`.
 */
export interface PollPlan {
  /** What the job reads and when, the first lines ("region eu-west-1; interval 5m, delay 2m…"). */
  summary: string[];
  /** Requests (calls, queries, metrics requested, tokens) the job makes. */
  requests?: PlanRate[];
  /** Datapoints a tick writes (`what` left out) or reads. */
  datapoints?: PlanRate[];
  /** Money the job costs at the source. */
  cost?: PlanCost[];
  /** The source's limits, and how much of each the job uses. */
  quota?: PlanQuota[];
  /** Figures of each part (a region and account pair, a report, a query, a shard), group by group. */
  parts?: PlanPartGroup[];
  /** Lines of their own: discovery, history, backfill windows, what the figures leave out. */
  notes?: string[];
  /** What would go wrong as configured (over a limit), and what to change. */
  warnings?: string[];
}

/** How many of something, per tick, hour, day and month (those given). */
export interface PlanRate {
  /** What is counted, plural ("GetMetricData calls", "queries"); left out, the section's name says it ("datapoints"). */
  what?: string;
  /** What is counted when there is one ("GetMetricData call"); `what` otherwise. */
  singular?: string;
  perTick?: number;
  perHour?: number;
  perDay?: number;
  perMonth?: number;
  /** The figures are estimates ("~70 tokens"). */
  estimate?: boolean;
  /** What the figure means or depends on, shown in parentheses. */
  note?: string;
}

export interface PlanCost {
  amount: number;
  /** ISO 4217 code ("USD"). */
  currency: string;
  per: 'hour' | 'day' | 'month';
  /** What is paid for ("GetMetricData"). */
  what: string;
  /** What the amount is based on (a list price, and where to check it). */
  basis: string;
}

export interface PlanQuota {
  /** What the limit counts, plural ("requests", "realtime tokens"). */
  what: string;
  /** The source's limit per `per`. */
  limit: number;
  /** How much of it the job uses per `per`. */
  used: number;
  per: 'minute' | 'hour' | 'day';
  /** Whose limit it is, or under what condition ("without a token (per IP address)", "per project", "busiest hour"). */
  scope?: string;
  /** `used` is an estimate. */
  estimate?: boolean;
}

/** Parts of one kind ("region and account pairs", "reports", "shards"), each with its own figures. */
export interface PlanPartGroup {
  /** The group's heading line, without the colon. */
  title: string;
  parts: PlanPart[];
}

export interface PlanPart {
  label: string;
  /** Per-tick figures of this part ("500 queries, 1 GetMetricData call per tick"). */
  requests?: PlanRate[];
  /** Facts of this part in words. */
  notes?: string[];
  /** The part this process runs (`--plan --shard i/n`). */
  current?: boolean;
}

/** What `plan` is told besides the options: the shard asked for with `--plan --shard i/n`, to show each shard's share. */
export interface PlanContext {
  shard?: Shard | undefined;
}

export interface PollerDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The poller's name: its file name in `pollers/` without `.ts`, and a valid Graphite node. */
  name: string;
  /** One line for `--list`. */
  summary: string;
  /** One schema: defaults, descriptions (`.describe()`), validation, `--help` and the example's docs. */
  options: S;
  schedule: ScheduleDefaults;
  /** Present when the source has history: enables backfill and catch-up. */
  history?: HistorySupport<z.output<S>>;
  poll(context: PollContext<z.output<S>>): Promise<void>;
  plan?(options: z.output<S>, schedule: JobSchedule, context?: PlanContext): PollPlan | Promise<PollPlan>;
  /** True when `poll` honours `context.shard`: only such pollers accept `--shard` (others would poll everything twice). */
  sharding?: boolean;
  /**
   * Releases what this instance holds (connection pools, SDK clients, timers): called once by the commands after
   * the final flush, before the process exits. A poller that holds nothing leaves it out.
   */
  close?(): void | Promise<void>;
}

export type Poller = PollerDefinition<z.ZodObject>;

/** Declares a poller; the identity function that gives its `poll` typed options. */
export function definePoller<S extends z.ZodObject>(definition: PollerDefinition<S>): PollerDefinition<S> {
  return definition;
}

/**
 * What a poller file exports by default: a poller, or a factory of pollers. A poller that keeps state (clients,
 * caches, pools, rate limiters) is a factory, `export default createXPoller`: every job gets its own instance,
 * owning that state, and `close()` ends it. Nothing lives in module-level maps.
 */
export type PollerModuleExport = Poller | (() => Poller);
