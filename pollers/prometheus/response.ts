// Prometheus HTTP API answers: the envelope (status, errorType, warnings, infos) and the result as plain series.

/** One series of a result: its labels and its samples as [epoch seconds, value]; values as the API wrote them. */
export interface ResultSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: ReadonlyArray<readonly [number, string]>;
  /** Native histogram samples the series also had (not sent: Graphite holds numbers). */
  readonly histograms: number;
}

export interface QueryAnswer {
  readonly resultType: 'matrix' | 'vector' | 'scalar';
  readonly series: ResultSeries[];
  /** `warnings` of the envelope: Prometheus's and Thanos's (a partial response says so here). */
  readonly warnings: string[];
  /** `infos` (Prometheus 2.45+): annotations that do not mean the result is wrong. */
  readonly infos: string[];
}

/** An answer with `"status": "error"`: the API's own errorType and message, and the HTTP status. */
export class PrometheusApiError extends Error {
  override readonly name = 'PrometheusApiError';
  readonly status: number;
  readonly errorType: string;
  readonly apiMessage: string;
  constructor(status: number, errorType: string, apiMessage: string) {
    super(`${status} ${errorType}: ${apiMessage}`);
    this.status = status;
    this.errorType = errorType;
    this.apiMessage = apiMessage;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * The answer of /api/v1/query_range (or /query) as series, or a PrometheusApiError for an error envelope.
 * `httpStatus` is the response's status: an error envelope keeps it (400 bad_data, 422 execution, 503 timeout).
 * Anything that is no Prometheus envelope (a proxy's HTML page, a JSON document of another API) is an Error
 * saying what came instead, so a wrong `url` is not taken for an empty result.
 */
export function parseAnswer(body: unknown, httpStatus: number): QueryAnswer {
  if (!isRecord(body) || (body.status !== 'success' && body.status !== 'error')) {
    const envelope = '{"status": "success" | "error", …}';
    throw new Error(`answered ${httpStatus} without a Prometheus API envelope (${envelope}): is url the API's root?`);
  }
  if (body.status === 'error') {
    const errorType = typeof body.errorType === 'string' ? body.errorType : 'error';
    throw new PrometheusApiError(httpStatus, errorType, typeof body.error === 'string' ? body.error : '(no message)');
  }
  const data = body.data;
  if (!isRecord(data)) throw new Error('answered "success" without data');
  const warnings = strings(body.warnings);
  const infos = strings(body.infos);
  const resultType = data.resultType;
  const result = data.result;
  switch (resultType) {
    case 'matrix':
      return { resultType, series: requireArray(result, resultType).map((item) => matrixSeries(item)), warnings, infos };
    case 'vector':
      return { resultType, series: requireArray(result, resultType).map((item) => vectorSeries(item)), warnings, infos };
    case 'scalar':
      // A scalar has no labels: one series whose only sample is the scalar.
      return { resultType, series: [{ labels: {}, samples: [sample(result)], histograms: 0 }], warnings, infos };
    default:
      throw new Error(
        `answered a result of type ${JSON.stringify(resultType)}: expected matrix, vector or scalar (a string has no numbers)`,
      );
  }
}

function requireArray(result: unknown, resultType: string): unknown[] {
  if (!Array.isArray(result)) throw new Error(`answered a ${resultType} whose result is no list`);
  return result;
}

function labelsOf(item: Record<string, unknown>): Record<string, string> {
  const labels: Record<string, string> = {};
  if (isRecord(item.metric)) for (const [key, value] of Object.entries(item.metric)) if (typeof value === 'string') labels[key] = value;
  return labels;
}

function matrixSeries(item: unknown): ResultSeries {
  if (!isRecord(item)) throw new Error('answered a matrix with an item that is no series');
  const values = Array.isArray(item.values) ? item.values : [];
  const histograms = Array.isArray(item.histograms) ? item.histograms.length : 0;
  return { labels: labelsOf(item), samples: values.map(sample), histograms };
}

function vectorSeries(item: unknown): ResultSeries {
  if (!isRecord(item)) throw new Error('answered a vector with an item that is no sample');
  if (item.value === undefined) return { labels: labelsOf(item), samples: [], histograms: item.histogram === undefined ? 0 : 1 };
  return { labels: labelsOf(item), samples: [sample(item.value)], histograms: 0 };
}

/** `[1712345678.123, "42"]`: the API writes values as strings so NaN, +Inf and -Inf survive JSON. */
function sample(value: unknown): readonly [number, string] {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || typeof value[1] !== 'string') {
    throw new Error(`answered a sample that is not [time, "value"]: ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return [value[0], value[1]];
}

/**
 * The sample's number, or undefined when Graphite must not get it: NaN (including the stale marker, a NaN
 * the API prints as "NaN"), +Inf, -Inf, and anything that is no number.
 */
export function sampleValue(text: string): number | undefined {
  // Number('') is 0 and Number(' 1 ') is 1: the API never writes those, so they are no numbers here.
  if (text.trim() !== text || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}
