// Fetches every page of several reports: first pages together, then the rows still missing, by the rows each answer held, until rowCount.
import type { RunReportRequest, RunReportResponse } from './client.ts';
import { inBatches } from './batching.ts';
import { fanOut, PartialFailure } from '../../lib/poller-kit/index.ts';

export interface Page<R> {
  report: R;
  offset: number;
  request: RunReportRequest;
}

export interface PagedFetch<R> {
  reports: readonly R[];
  /** The most rows one request asks for (the `limit` of a first page). */
  pageSize: number;
  /** The request for `limit` rows of a report from `offset`. */
  request(report: R, offset: number, limit: number): RunReportRequest;
  /** Sends up to 5 pages as one batchRunReports call; answers in the same order. */
  fetchBatch(pages: Page<R>[]): Promise<RunReportResponse[]>;
  /** Called with each page as it arrives (map and emit rows, then await the sink's backpressure). */
  onPage(page: Page<R>, response: RunReportResponse): Promise<void>;
}

export interface PagedResult<R> {
  /** Reports every row of which arrived. */
  complete: R[];
  /** Failures, each with the reports of its batch (or the one report whose answers did not add up). */
  failures: Array<{ reports: R[]; error: unknown }>;
}

/** What is known of one report's rows: how many GA says there are, which offsets arrived, how many rows a page holds. */
interface Progress {
  rowCount: number | undefined;
  /** Rows received, as half-open offset ranges. */
  received: Array<[number, number]>;
  /** Offsets asked for and not answered yet. */
  asked: Array<[number, number]>;
  /** Rows a page is planned with: the page size, or fewer once GA has answered fewer than asked (its own cap). */
  stride: number;
}

/**
 * Reads every row of every report. Round one asks for each report's first page; its `rowCount` (absent: no rows)
 * says how many rows there are. Each later round asks, for every report, the offsets no answer has covered yet,
 * all reports together, 5 pages to a batch. GA may answer fewer rows than the limit asked: the next offset is
 * where the rows received end, never where the page was meant to end, so no row is skipped.
 * Answers that cannot be reconciled fail their report with one line: no rows while rowCount says more remain,
 * a rowCount that changes between pages (GA still processing: the next run reads the window again), rows past
 * rowCount, more rows than asked for.
 */
export async function fetchAllPages<R>(fetch: PagedFetch<R>): Promise<PagedResult<R>> {
  const { pageSize } = fetch;
  const progress = new Map<R, Progress>();
  const failed = new Set<R>();
  const failures: PagedResult<R>['failures'] = [];
  const fail = (reports: R[], error: unknown) => {
    reports.forEach((r) => failed.add(r));
    failures.push({ reports, error });
  };
  let pending: Array<Page<R> & { limit: number }> = fetch.reports.map((report) => {
    progress.set(report, { rowCount: undefined, received: [], asked: [[0, pageSize]], stride: pageSize });
    return { report, offset: 0, limit: pageSize, request: fetch.request(report, 0, pageSize) };
  });

  while (pending.length > 0) {
    // Every batch of the round at once (the property's limiter keeps GA's concurrency); a batch that fails fails
    // its reports, the others carry on. No signal here: each request ends itself at the run's deadline with a line
    // saying what it was doing (request-policy.ts), recorded as its batch's failure like any other.
    await fanOut(
      inBatches(pending),
      async (batch) => {
        const responses = await fetch.fetchBatch(batch);
        for (const [i, page] of batch.entries()) {
          if (failed.has(page.report)) continue;
          const response = responses[i]!;
          const state = progress.get(page.report)!;
          state.asked = state.asked.filter(([start]) => start !== page.offset);
          const problem = reconcile(state, page, response);
          if (problem) {
            fail([page.report], new Error(problem));
            continue;
          }
          await fetch.onPage(page, response);
        }
      },
      { concurrency: Math.max(1, pending.length), noun: 'batchRunReports calls' },
    ).catch((error: unknown) => {
      if (!(error instanceof PartialFailure)) throw error;
      for (const { item: batch, error: cause } of error.failures as PartialFailure<Page<R>[]>['failures']) {
        fail([...new Set(batch.map((p) => p.report))], cause);
      }
    });
    pending = [];
    for (const [report, state] of progress) {
      if (failed.has(report)) continue;
      for (const [start, end] of missing(state)) {
        for (let offset = start; offset < end; offset += state.stride) {
          const limit = Math.min(state.stride, end - offset);
          state.asked.push([offset, offset + limit]);
          pending.push({ report, offset, limit, request: fetch.request(report, offset, limit) });
        }
      }
    }
    pending.sort((a, b) => a.offset - b.offset);
  }
  return { complete: fetch.reports.filter((r) => !failed.has(r)), failures };
}

/** Records the rows of one answer; a sentence saying why the answer does not fit the report's other answers, if it does not. */
function reconcile(state: Progress, page: Page<unknown> & { limit: number }, response: RunReportResponse): string | undefined {
  const rows = response.rows?.length ?? 0;
  // Proto3 JSON leaves out a zero rowCount.
  const rowCount = Number(response.rowCount ?? 0);
  const at = page.offset > 0 ? ` at offset ${page.offset}` : '';
  if (!Number.isSafeInteger(rowCount) || rowCount < 0) return `GA answered a rowCount of ${JSON.stringify(response.rowCount)}${at}`;
  if (state.rowCount === undefined) state.rowCount = rowCount;
  else if (rowCount !== state.rowCount) {
    const changed = `GA's rowCount changed from ${state.rowCount} to ${rowCount} between pages`;
    return `${changed} (data still being processed); the rows are read again on the next run`;
  }
  if (rows > page.limit) return `GA answered ${rows} rows${at} for a limit of ${page.limit}`;
  if (page.offset + rows > rowCount) return `GA answered ${rows} rows${at}, past its rowCount of ${rowCount}`;
  if (rows === 0 && page.offset < rowCount) return `GA answered no rows${at} while its rowCount of ${rowCount} says more remain`;
  if (rows > 0) {
    state.received.push([page.offset, page.offset + rows]);
    // A short page that is not the last shows how many rows GA hands out at a time: plan the rest with that.
    if (rows < page.limit && page.offset + rows < rowCount) state.stride = Math.min(state.stride, rows);
  }
  return undefined;
}

/** The offset ranges of `[0, rowCount)` neither received nor asked for. */
function missing(state: Progress): Array<[number, number]> {
  const total = state.rowCount ?? 0;
  const covered = [...state.received, ...state.asked].sort((a, b) => a[0] - b[0]);
  const gaps: Array<[number, number]> = [];
  let at = 0;
  for (const [start, end] of covered) {
    if (start > at) gaps.push([at, Math.min(start, total)]);
    at = Math.max(at, end);
    if (at >= total) break;
  }
  if (at < total) gaps.push([at, total]);
  return gaps.filter(([start, end]) => end > start);
}
