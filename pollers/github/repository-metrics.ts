// Which fields of GitHub's answers become which path leaves: pure functions, tested on literal JSON.

/**
 * Leaves written for every repository, from GET /repos/{owner}/{repo}. The names say what the number is,
 * not what GitHub calls it: `watchers_count` is the star count for historical reasons, while the people
 * watching the repository are `subscribers_count`; `open_issues_count` includes open pull requests.
 */
export const REPOSITORY_FIELDS = [
  ['stars', 'stargazers_count'],
  ['forks', 'forks_count'],
  ['open_issues', 'open_issues_count'],
  ['watchers', 'subscribers_count'],
  ['size_kb', 'size'],
] as const;

export type RepositoryLeaf = (typeof REPOSITORY_FIELDS)[number][0];

/** The numeric fields of a repository object; a field GitHub leaves out (or sends as null) is skipped. */
export function repositoryValues(body: unknown): Array<[RepositoryLeaf, number]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  const record = body as Record<string, unknown>;
  const out: Array<[RepositoryLeaf, number]> = [];
  for (const [leaf, field] of REPOSITORY_FIELDS) {
    const value = record[field];
    if (typeof value === 'number' && Number.isFinite(value)) out.push([leaf, value]);
  }
  return out;
}

export interface DailyViews {
  /** Epoch seconds of the day's start (UTC), as GitHub reports it. */
  timestamp: number;
  views: number;
  uniqueVisitors: number;
}

/**
 * The days of GET /repos/{owner}/{repo}/traffic/views?per=day: `{"count", "uniques", "views": [{"timestamp":
 * "2026-04-20T00:00:00Z", "count": 440, "uniques": 143}, …]}`, the last 14 days, today still growing.
 */
export function dailyViews(body: unknown): DailyViews[] {
  const views = (body as { views?: unknown } | null)?.views;
  if (!Array.isArray(views)) return [];
  const out: DailyViews[] = [];
  for (const day of views as Array<Record<string, unknown> | null>) {
    const timestamp = typeof day?.timestamp === 'string' ? Date.parse(day.timestamp) / 1000 : NaN;
    const count = day?.count;
    const uniques = day?.uniques;
    if (!Number.isFinite(timestamp) || typeof count !== 'number' || typeof uniques !== 'number') continue;
    out.push({ timestamp, views: count, uniqueVisitors: uniques });
  }
  return out;
}
