// Backfill progress: a bar on a TTY (cli-progress), a log line every few seconds otherwise (cron, supervisor).
import cliProgress from 'cli-progress';
import type { Logger } from './log.ts';

export interface ProgressState {
  done: number;
  total: number;
  datapoints: number;
  failed: number;
}

export interface ProgressDisplay {
  update(state: ProgressState): void;
  stop(): void;
}

export function createProgressDisplay(options: { tty: boolean; log: Logger; now?: () => number; everyMs?: number; label: string }): ProgressDisplay {
  const now = options.now ?? Date.now;
  const started = now();
  const rate = (points: number) => Math.round(points / Math.max(0.001, (now() - started) / 1000));

  if (options.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${options.label} [{bar}] {value}/{total} windows | {datapoints} points | {rate} points/s | ETA {eta_formatted}{failedText}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let startedBar = false;
    return {
      update(state) {
        const payload = { datapoints: state.datapoints, rate: rate(state.datapoints), failedText: state.failed ? ` | ${state.failed} failed` : '' };
        if (!startedBar) {
          bar.start(state.total, state.done, payload);
          startedBar = true;
        } else bar.update(state.done, payload);
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
    stop() {},
  };
}
