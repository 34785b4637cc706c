// Backfill progress: a bar on a TTY (cli-progress), a log line every few seconds otherwise (cron, supervisor).
import cliProgress from 'cli-progress';
import { formatDuration } from '../poller-kit/duration.ts';
import type { Logger } from '../poller-kit/logger.ts';

export interface ProgressState {
  done: number;
  total: number;
  datapoints: number;
  failed: number;
}

/** The run is held up by Graphite: its fetched lines are still queued. */
export interface WaitingProgressState extends ProgressState {
  queued: number;
  waitedMs: number;
}

export interface ProgressDisplay {
  update(state: ProgressState): void;
  /** Says what the run waits for; the caller calls it at its cadence while the wait lasts (a bar shows it until the next update). */
  waiting(state: WaitingProgressState): void;
  stop(): void;
}

export interface ProgressDisplayOptions {
  tty: boolean;
  log: Logger;
  now?: () => number;
  /** Without a TTY: at most one progress line this often (default 10 s), and always one for the last window. */
  everyMs?: number;
  label: string;
  /** Where the lines go (`tcp://host:port`), named while the run waits for it. */
  graphite?: string;
  /** The bar's terminal (default process.stderr). */
  stream?: NodeJS.WritableStream;
}

/** "4/4 windows fetched, 12,000 datapoints waiting for Graphite at tcp://…, 27s" */
export function waitingMessage(state: WaitingProgressState, graphite = 'its address'): string {
  const waited = formatDuration(Math.round(state.waitedMs / 1000));
  const queued = state.queued.toLocaleString('en-US');
  return `${state.done}/${state.total} windows fetched, ${queued} datapoints waiting for Graphite at ${graphite}, ${waited}`;
}

export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  const now = options.now ?? Date.now;
  const started = now();
  const rate = (points: number) => Math.round(points / Math.max(0.001, (now() - started) / 1000));

  if (options.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          `${options.label} [{bar}] {value}/{total} windows | {datapoints} points | {rate} points/s | ETA {eta_formatted}` +
          '{failedText}{waitingText}',
        stream: options.stream ?? process.stderr,
        hideCursor: true,
        etaBuffer: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let startedBar = false;
    const show = (state: ProgressState, waitingText: string) => {
      const failedText = state.failed ? ` | ${state.failed} failed` : '';
      const payload = { datapoints: state.datapoints, rate: rate(state.datapoints), failedText, waitingText };
      if (!startedBar) {
        bar.start(state.total, state.done, payload);
        startedBar = true;
      } else bar.update(state.done, payload);
    };
    return {
      update(state) {
        show(state, '');
      },
      waiting(state) {
        show(state, ` | ${waitingMessage(state, options.graphite)}`);
      },
      stop() {
        if (startedBar) bar.stop();
      },
    };
  }

  const everyMs = options.everyMs ?? 10_000;
  let lastLog = started;
  return {
    update(state) {
      const at = now();
      if (at - lastLog < everyMs && state.done < state.total) return;
      lastLog = at;
      const elapsed = (at - started) / 1000;
      const eta = state.done > 0 ? Math.round((elapsed / state.done) * (state.total - state.done)) : undefined;
      options.log.info('backfill progress', {
        windows: `${state.done}/${state.total}`,
        datapoints: state.datapoints,
        rate: rate(state.datapoints),
        eta_seconds: eta,
        failed: state.failed || undefined,
      });
    },
    waiting(state) {
      // Called at the progress cadence already: every call is a line.
      lastLog = now();
      options.log.info(waitingMessage(state, options.graphite));
    },
    stop() {},
  };
}
