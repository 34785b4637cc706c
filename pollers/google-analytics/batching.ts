// Groups report requests into batchRunReports calls of at most 5, the Data API's limit per batch.
import type { RunReportRequest, RunReportResponse } from './client.ts';

/** The Data API answers at most 5 reports per batchRunReports call, all of one property. */
export const BATCH_LIMIT = 5;

/** `items` in consecutive groups of at most `size`, order kept. */
export function inBatches<T>(items: readonly T[], size = BATCH_LIMIT): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** Sends one batch and pairs each answer with its request; GA answers in request order. */
export async function runBatch(
  requests: readonly RunReportRequest[],
  send: (requests: RunReportRequest[]) => Promise<{ reports?: RunReportResponse[] | null }>,
): Promise<RunReportResponse[]> {
  if (requests.length === 0) return [];
  if (requests.length > BATCH_LIMIT) throw new Error(`a batch of ${requests.length} reports: GA allows ${BATCH_LIMIT}`);
  const answer = await send([...requests]);
  const reports = answer.reports ?? [];
  if (reports.length !== requests.length) {
    throw new Error(`batchRunReports answered ${reports.length} reports for ${requests.length} requests`);
  }
  return reports;
}
