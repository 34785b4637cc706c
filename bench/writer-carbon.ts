// The Graphite writer into a real carbon-cache, beside the same lines into a loopback server that only counts:
// how fast carbon accepts them, when the last one is readable, and which side is the bottleneck.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createGraphiteWriter } from '../lib/graphite/writer.ts';
import { Carbon, carbonUnavailable } from '../test/helpers/carbon.ts';
import { atLeast, formatText, info, perSecond, ratio, seconds, skipped, type Section } from './report.ts';
import { startSink } from './writer.ts';

const METRICS = 500;
const MINUTES = 1000;
const POINTS = METRICS * MINUTES;
const STEP = 60;
/** Carbon must be the slower side by at least this factor for "carbon is the bottleneck" to hold. */
const BOTTLENECK_FACTOR = 5;

const TITLE = 'Writer vs carbon';

/** Time-major lines, as a poller writes them: every metric for one minute, then the next minute. */
function makeLines(start: number): string[] {
  const lines: string[] = [];
  for (let m = 0; m < MINUTES; m++) {
    const t = start + m * STEP;
    for (let i = 0; i < METRICS; i++) lines.push(`bench.carbon.m${i}.value ${(m * 7 + i) % 1000} ${t}\n`);
  }
  return lines;
}

/** Sends every line through a fresh writer; resolves once the peer has read them all (it closed its side after ours). */
async function send(url: string, lines: readonly string[]): Promise<{ seconds: number; cpuSeconds: number; dropped: number }> {
  const writer = createGraphiteWriter({ url, closeTimeoutMs: 300_000 });
  await writer.flush(10_000);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < lines.length; i++) {
    writer.write(lines[i]!);
    if ((i & 0xffff) === 0) await writer.ready();
  }
  await writer.flush(300_000);
  const { dropped } = writer.stats();
  // close() ends our side and waits for the peer's: carbon (and the counting server) close theirs once read.
  await writer.close();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, dropped };
}

/** CPU seconds a process has used (Linux /proc), or undefined. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export default async function benchWriterCarbon(): Promise<Section> {
  const method =
    `${POINTS.toLocaleString('en-US')} points (${METRICS} metrics × ${MINUTES.toLocaleString('en-US')} minutes, ` +
    `time-major as a poller writes them) through the ` +
    'Graphite writer, first into a loopback server that only counts bytes, then into a real carbon-cache (graphite-carbon from Debian, ' +
    'started by the shared test server script with a 60s:30d schema). "Accepted" ends when carbon has read every line: the writer ' +
    'half-closes its socket and carbon closes its side once it has read up to that point. "Readable" ends when whisper returns the ' +
    'last line sent; "on disk" when the test server\'s flush barrier says every received point is written.';
  if (carbonUnavailable) {
    return { title: TITLE, method, figures: [skipped('carbon accepts', carbonUnavailable)], notes: [`Skipped: ${carbonUnavailable}.`] };
  }
  const start = Math.floor(Date.now() / 1000 / 3600) * 3600 - 2 * 86_400;
  const lines = makeLines(start);
  const sink = await startSink();
  let counting = Infinity;
  try {
    // Best of three, after a warm-up of the same path.
    await send(`tcp://127.0.0.1:${sink.port}`, lines.slice(0, 50_000));
    for (let r = 0; r < 3; r++) counting = Math.min(counting, (await send(`tcp://127.0.0.1:${sink.port}`, lines)).seconds);
  } finally {
    await sink.close();
  }

  const carbon = await Carbon.start({ retentions: '60s:30d' });
  try {
    const pid = Number(readFileSync(join(carbon.dir, 'carbon-cache.pid'), 'utf8').trim());
    const carbonCpuBefore = processCpuSeconds(pid);
    const accepted = await send(carbon.url, lines);
    const carbonCpu = carbonCpuBefore === undefined ? undefined : (processCpuSeconds(pid) ?? NaN) - carbonCpuBefore;
    const acceptedAt = performance.now();
    const last = `bench.carbon.m${METRICS - 1}.value`;
    const lastTimestamp = start + (MINUTES - 1) * STEP;
    // Whisper's fetch starts one step after FROM: ask from the step before.
    await carbon.wait(last, 1, lastTimestamp - STEP, lastTimestamp + STEP);
    const readable = (performance.now() - acceptedAt) / 1000;
    await carbon.flush();
    const onDisk = (performance.now() - acceptedAt) / 1000;
    // Every point of the first and the last metric is there (carbon kept all it accepted).
    const firstPoints = await carbon.fetch('bench.carbon.m0.value', start - STEP, start + MINUTES * STEP);
    const lastPoints = await carbon.fetch(last, start - STEP, start + MINUTES * STEP);

    const carbonRate = POINTS / accepted.seconds;
    const countingRate = POINTS / counting;
    const writerBusy = accepted.cpuSeconds / accepted.seconds;
    return {
      title: TITLE,
      method,
      figures: [
        atLeast(
          'writer into a counting server / into carbon (carbon is the bottleneck)',
          countingRate / carbonRate,
          BOTTLENECK_FACTOR,
          ratio,
        ),
        info('carbon accepted', perSecond(carbonRate)),
        info('writer into the counting server', perSecond(countingRate)),
        info('time until carbon had read every line', seconds(accepted.seconds)),
        info('then until the last line sent was readable', seconds(readable)),
        info('then until every point was on disk', seconds(onDisk)),
        info(
          'CPU while carbon accepted',
          `writer process ${(writerBusy * 100).toFixed(0)}% of one core` +
            (carbonCpu === undefined
              ? ''
              : `, carbon-cache ${((carbonCpu / accepted.seconds) * 100).toFixed(0)}% (Python: one core at most)`),
        ),
        info(
          'points read back (first and last metric)',
          `${firstPoints.length + lastPoints.length} of ${2 * MINUTES}; ${accepted.dropped} dropped by the writer`,
        ),
      ],
      notes: [
        "The writer spends most of that time waiting for carbon's socket to drain (its process is nearly idle) while carbon-cache, " +
          'a single Python process, runs flat out: to write faster into Graphite, add carbon-caches behind a relay (README, ' +
          'Scale-out), not pollers.',
      ],
    };
  } finally {
    await carbon.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatText(await benchWriterCarbon()));
}
