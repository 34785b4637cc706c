// The poller kit: everything a poller may import from lib/ (test/pollers/contract.test.ts holds pollers to it).
export {
  definePoller,
  type HistorySupport,
  type JobSchedule,
  type MetricPath,
  type MetricTags,
  type PlanContext,
  type PollContext,
  type Poller,
  type PollerDefinition,
  type PollerModuleExport,
  type PlanCost,
  type PlanPart,
  type PlanPartGroup,
  type PlanQuota,
  type PlanRate,
  type PollPlan,
  type PollStats,
  type ScheduleDefaults,
  type Sink,
  type TimeWindow,
} from './contract.ts';
export { ConfigError, isConfigError } from './config-error.ts';
export { duration, formatDuration, MAX_DURATION, parseDuration } from './duration.ts';
export { byteSize, formatByteSize, parseByteSize } from './byte-size.ts';
export { silentLogger, type LogFields, type Logger, type LogLevel } from './logger.ts';
export { systemClock, type Clock } from './clock.ts';
export { inShard, shardOf, type Shard } from './shard.ts';
export { RateLimiter, type RateLimiterOptions } from './rate-limiter.ts';
export { backoffDelay, type BackoffShape } from './backoff.ts';
export { deadline, formatMs, type Deadline } from './deadline.ts';
export { DEFAULT_MAX_RESPONSE_BYTES, readBoundedJson, readBoundedText, ResponseTooLargeError } from './bounded-body.ts';
export { blockedPortMessage, FETCH_BLOCKED_PORTS, fetchBlockedPort } from './fetch-ports.ts';
export { fanOut, PartialFailure, type FanOutOptions } from './fan-out.ts';
export {
  epochOfLocalTime,
  isValidTimeZone,
  localTimeAt,
  nextLocalMidnight,
  startOfLocalDay,
  startOfLocalHour,
  utcOffsetAt,
  type LocalTime,
} from './time-zone.ts';
export { renderPathTemplate, templatePlaceholders } from './path-template.ts';
export { seriesName } from './series-name.ts';
export { RequestGate, RequestGates, type ClosedGate, type GateClosure } from './request-gate.ts';
