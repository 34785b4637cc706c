// Fetches every page of several reports: first pages together, then the remaining offsets until each report's rowCount.
import type { RunReportRequest, RunReportResponse } from './client.ts';
import { inBatches } from './batching.ts';

export interface Page<R> {
  report: R;
  offset: number;
  request: RunReportRequest;
}

export interface PagedFetch<R> {
  reports: readonly R[];
  pageSize: number;
  /** The request for one page of a report. */
  request(report: R, offset: number): RunReportRequest;
  /** Sends up to 5 pages as one batchRunReports call; answers in the same order. */
  fetchBatch(pages: Page<R>[]): Promise<RunReportResponse[]>;
  /** Called with each page as it arrives (map and emit rows, then await the sink's backpressure). */
  onPage(page: Page<R>, response: RunReportResponse): Promise<void>;
}

export interface PagedResult<R> {
  /** Reports every page of which arrived. */
  complete: R[];
  /** Failures, each with the reports of its batch. */
  failures: Array<{ reports: R[]; error: unknown }>;
}

/**
 * Reads every row of every report. Round one asks for each report's first page; its `rowCount` (absent: no rows)
 * says which offsets remain, and those pages — of all reports together — go out in the next round, 5 to a batch.
 * Should a later page report more rows than the first did (GA still processing), the missing pages follow in a
 * further round. A page that comes back empty before rowCount ends the report: rows are not fetched twice.
 */
export async function fetchAllPages<R>(fetch: PagedFetch<R>): Promise<PagedResult<R>> {
  const { pageSize } = fetch;
  const planned = new Map<R, number>(); // the end of the offsets asked for so far
  const failed = new Set<R>();
  const failures: PagedResult<R>['failures'] = [];
  let pending: Page<R>[] = fetch.reports.map((report) => {
    planned.set(report, pageSize);
    return { report, offset: 0, request: fetch.request(report, 0) };
  });

  while (pending.length > 0) {
    const next: Page<R>[] = [];
    await Promise.all(
      inBatches(pending).map(async (batch) => {
        try {
          const responses = await fetch.fetchBatch(batch);
          for (const [i, page] of batch.entries()) {
            const response = responses[i]!;
            await fetch.onPage(page, response);
            const rowCount = Number(response.rowCount ?? 0);
            if ((response.rows?.length ?? 0) === 0) continue;
            let end = planned.get(page.report)!;
            while (end < rowCount) {
              next.push({ report: page.report, offset: end, request: fetch.request(page.report, end) });
              end += pageSize;
            }
            planned.set(page.report, end);
          }
        } catch (error) {
          const reports = [...new Set(batch.map((p) => p.report))];
          reports.forEach((r) => failed.add(r));
          failures.push({ reports, error });
        }
      }),
    );
    // Pages of a report one of whose batches failed are not worth their tokens: the report is incomplete anyway.
    pending = next.filter((p) => !failed.has(p.report)).sort((a, b) => a.offset - b.offset);
  }
  return { complete: fetch.reports.filter((r) => !failed.has(r)), failures };
}
