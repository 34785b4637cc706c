// A test source for bench/backfill-pipeline.ts, loaded by bin/backfill.ts through POLLERS_PATH=bench/pollers:
// deterministic minutes of history, handed out in pages like a real API, optionally with pages in flight.
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { z } from 'zod';
import { definePoller, type Sink } from '../../lib/poller-kit/contract.ts';

const STEP = 60;
/** Times the source found the queue full and how long it waited, reported on stderr at exit. */
const waits = { count: 0, ms: 0 };

export default definePoller({
  name: 'bench-source',
  summary: 'Deterministic history in pages, for the backpressure benchmark',
  options: z.strictObject({
    series: z.number().int().min(1).default(1000).describe('Series, one point per minute each.'),
    windowSeconds: z.number().int().min(STEP).default(3600).describe('The largest window one call is asked for.'),
    pageSize: z.number().int().min(0).default(0).describe('Points per page (0: the whole window at once, no ready() inside it).'),
    pagesInFlight: z.number().int().min(1).default(1).describe('Pages of one window fetched at once.'),
    latencyMs: z.number().min(0).default(0).describe('Simulated API latency before each page.'),
  }),
  schedule: { interval: STEP },
  history: { maxWindow: (o) => o.windowSeconds, retention: () => 400 * 86400, step: () => STEP },
  async poll({ options, window, sink, signal }) {
    const total = Math.ceil((window.end - window.start) / STEP) * options.series;
    const pageSize = options.pageSize || total;
    const limit = pLimit(options.pagesInFlight);
    await Promise.all(
      Array.from({ length: Math.ceil(total / pageSize) }, (_, page) =>
        limit(async () => {
          if (options.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
          signal.throwIfAborted();
          emitPage(sink, window.start, options.series, page * pageSize, Math.min(total, (page + 1) * pageSize));
          // What every poller is asked to do between pages of a large result.
          if (options.pageSize > 0) await timed(sink.ready());
        }),
      ),
    );
  },
});

async function timed(ready: Promise<void>): Promise<void> {
  const started = performance.now();
  await ready;
  const waited = performance.now() - started;
  // A resolved ready() still takes a microtask: count only real waits.
  if (waited > 0.5) {
    waits.count++;
    waits.ms += waited;
  }
}

/** Points [from, to) of a window, every series of a minute, then the next minute. */
function emitPage(sink: Sink, start: number, series: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const t = start + Math.floor(i / series) * STEP;
    const s = i % series;
    sink.emit(['bench', `s${s}`, 'value'], (t % 100_000) + s / 10, t);
  }
}

process.on('exit', () => process.stderr.write(`bench-source-waits ${JSON.stringify(waits)}\n`));
