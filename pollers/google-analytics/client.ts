// The Data API client: credentials (key file, bearer token), root URL, and the three report calls, with no retries of its own.
import { readFileSync } from 'node:fs';
import type { analyticsdata_v1beta, auth } from '@googleapis/analyticsdata';
import { ConfigError } from '../../lib/poller-kit/index.ts';

type Sdk = typeof import('@googleapis/analyticsdata');
let sdk: Promise<Sdk> | undefined;
/** googleapis takes about 90 ms to load: only a process that calls GA pays for it (not --list, nor other pollers). */
const loadSdk = (): Promise<Sdk> => (sdk ??= import('@googleapis/analyticsdata'));

export type RunReportRequest = analyticsdata_v1beta.Schema$RunReportRequest;
export type RunReportResponse = analyticsdata_v1beta.Schema$RunReportResponse;
export type BatchRunReportsResponse = analyticsdata_v1beta.Schema$BatchRunReportsResponse;
export type RunRealtimeReportRequest = analyticsdata_v1beta.Schema$RunRealtimeReportRequest;
export type RunRealtimeReportResponse = analyticsdata_v1beta.Schema$RunRealtimeReportResponse;
export type PropertyQuota = analyticsdata_v1beta.Schema$PropertyQuota;
export type Row = analyticsdata_v1beta.Schema$Row;

export const DEFAULT_API_ROOT = 'https://analyticsdata.googleapis.com/';
export const SCOPE = 'https://www.googleapis.com/auth/analytics.readonly';

/** What the poller asks of GA: one property, one call per method, each abortable. */
export interface Ga4Client {
  readonly propertyId: string;
  /** Where requests go (for messages). */
  readonly apiRoot: string;
  /** How the client authenticates (for messages): `keyFile`, `GOOGLE_OAUTH_ACCESS_TOKEN`, … */
  readonly credentialSource: string;
  runReport(request: RunReportRequest, signal: AbortSignal): Promise<RunReportResponse>;
  batchRunReports(requests: RunReportRequest[], signal: AbortSignal): Promise<BatchRunReportsResponse>;
  runRealtimeReport(request: RunRealtimeReportRequest, signal: AbortSignal): Promise<RunRealtimeReportResponse>;
}

export interface ClientSettings {
  propertyId: string;
  keyFile?: string | undefined;
  apiRoot?: string | undefined;
}

type AuthClient = InstanceType<typeof auth.OAuth2> | InstanceType<typeof auth.GoogleAuth>;

interface Credentials {
  /** Identifies the credentials, so an auth client (and the tokens it caches) is made once per process. */
  key: string;
  source: string;
  /** `fetchImplementation` also carries the client's own token requests (service accounts). */
  create(fetchImplementation: typeof globalThis.fetch, sdk: Sdk): AuthClient;
}

/**
 * Finds the credentials, in this order: the `keyFile` option; a ready bearer token in GOOGLE_OAUTH_ACCESS_TOKEN
 * (`gcloud auth print-access-token`; it needs no network of its own, so it also works against a local server);
 * the key file named by GOOGLE_APPLICATION_CREDENTIALS. None of them: a ConfigError saying how to set one.
 */
export function findCredentials(settings: ClientSettings, env: NodeJS.ProcessEnv): Credentials {
  if (settings.keyFile) return keyFileCredentials(settings.keyFile, 'keyFile');
  const token = env.GOOGLE_OAUTH_ACCESS_TOKEN?.trim();
  if (token) {
    return {
      key: `token:${token}`,
      source: 'GOOGLE_OAUTH_ACCESS_TOKEN',
      create: (_fetchImplementation, { auth }) => {
        const client = new auth.OAuth2();
        // No refresh token and no expiry: the token is sent as is; a 401 says it has expired.
        client.setCredentials({ access_token: token });
        return client;
      },
    };
  }
  const file = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  if (file) return keyFileCredentials(file, 'GOOGLE_APPLICATION_CREDENTIALS');
  throw new ConfigError(
    'no Google credentials: set keyFile (a service account key with read access to the property), ' +
      'or GOOGLE_APPLICATION_CREDENTIALS to such a key file, or GOOGLE_OAUTH_ACCESS_TOKEN to a bearer token',
    { field: 'keyFile' },
  );
}

function keyFileCredentials(path: string, field: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read the key file ${path} (${code})`, { field });
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`the key file ${path} is not JSON (expected a service account key downloaded from the Google Cloud console)`, {
      field,
    });
  }
  if (!json || typeof json !== 'object' || typeof json.type !== 'string') {
    throw new ConfigError(`the key file ${path} has no "type" (expected a service account key)`, { field });
  }
  if (json.type === 'service_account' && (typeof json.client_email !== 'string' || typeof json.private_key !== 'string')) {
    throw new ConfigError(`the key file ${path} lacks client_email or private_key`, { field });
  }
  return {
    key: `file:${path}:${text}`,
    source: field,
    // GoogleAuth picks the client for the file's type (service_account, authorized_user, external_account).
    create: (fetchImplementation, { auth }) =>
      new auth.GoogleAuth({ credentials: json, scopes: [SCOPE], clientOptions: { transporterOptions: { fetchImplementation } } }),
  };
}

/** The root URL: the `apiRoot` option, else GA4_API_ROOT_URL, else Google's. */
export function resolveApiRoot(settings: ClientSettings, env: NodeJS.ProcessEnv): string {
  const root = settings.apiRoot ?? (env.GA4_API_ROOT_URL?.trim() || DEFAULT_API_ROOT);
  try {
    new URL(root);
  } catch {
    throw new ConfigError(`not a URL: ${JSON.stringify(root)}`, { field: settings.apiRoot ? 'apiRoot' : 'GA4_API_ROOT_URL' });
  }
  return root;
}

/** Auth clients by credentials, so token caches survive from one tick to the next. */
export class ClientFactory {
  readonly #auth = new Map<string, AuthClient>();

  create(settings: ClientSettings, env: NodeJS.ProcessEnv, fetchImplementation: typeof globalThis.fetch): Ga4Client {
    const credentials = findCredentials(settings, env);
    const apiRoot = resolveApiRoot(settings, env);
    // The SDK loads on the first call; configuration errors above are found before it.
    let client: Promise<analyticsdata_v1beta.Analyticsdata> | undefined;
    const api = () =>
      (client ??= loadSdk().then((sdk) => {
        let authClient = this.#auth.get(credentials.key);
        if (!authClient) {
          authClient = credentials.create(fetchImplementation, sdk);
          this.#auth.set(credentials.key, authClient);
        }
        return sdk.analyticsdata({ version: 'v1beta', auth: authClient });
      }));
    const property = `properties/${settings.propertyId}`;
    // rootUrl per call (not per client): the client then keeps a proxy's path prefix, which a client-wide rootUrl
    // would drop. retry: false because gaxios would retry 429 and 5xx on its own for other methods; quota waits and
    // bounded backoff are ours (and it never retries POST, which every report call is).
    const call = (signal: AbortSignal) => ({ rootUrl: apiRoot, signal, retry: false, fetchImplementation });
    return {
      propertyId: settings.propertyId,
      apiRoot,
      credentialSource: credentials.source,
      async runReport(request, signal) {
        return (await (await api()).properties.runReport({ property, requestBody: request }, call(signal))).data;
      },
      async batchRunReports(requests, signal) {
        return (await (await api()).properties.batchRunReports({ property, requestBody: { requests } }, call(signal))).data;
      },
      async runRealtimeReport(request, signal) {
        return (await (await api()).properties.runRealtimeReport({ property, requestBody: request }, call(signal))).data;
      },
    };
  }
}
