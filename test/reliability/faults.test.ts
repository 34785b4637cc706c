// The faults whose work happens in other processes (bin/poll.ts jobs, carbon-cache, a peer that stops reading),
// run at once: vitest runs test files one after another on CI's two cores, and most of this waits (carbon stopped
// for 8 s, a peer hung for 16 s…), so concurrently they take about as long as the longest one. Their rows are those
// of docs/reliability.md; `npm run reliability` runs them at full length.
import { afterAll, beforeAll, describe, vi } from 'vitest';
import { carbonUnavailable } from '../helpers/carbon.ts';
import { blackholeFaults } from './blackhole.ts';
import { brokenConfigs } from './broken-configs.ts';
import { graphiteFaults } from './graphite.ts';
import { cleanUp, startCarbons } from './harness.ts';
import { processFaults } from './process.ts';
import { secretsNeverLeak } from './secrets.ts';
import { stateDirectoryFaults } from './state-dir.ts';
import { transportFaults } from './transports.ts';

vi.setConfig({ maxConcurrency: 100 });

describe.concurrent('faults', () => {
  // One carbon-cache for each test that uses one (12), all started before any test stops its own.
  beforeAll(async () => {
    if (!carbonUnavailable) await startCarbons(12);
  }, 300_000);
  // Poller processes and carbon-caches that a failed or timed-out test left behind.
  afterAll(cleanUp);

  graphiteFaults();
  blackholeFaults();
  processFaults();
  stateDirectoryFaults();
  brokenConfigs();
  secretsNeverLeak();
  transportFaults();
});
