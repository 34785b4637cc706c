// One CloudWatch SDK client per region, endpoint and role for the whole process: credentials, retries and region resolution.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { ConfigError } from '../../lib/config-error.ts';

export interface ClientSettings {
  region?: string | undefined;
  endpoint?: string | undefined;
  roleArn?: string | undefined;
  externalId?: string | undefined;
  roleSessionName: string;
  maxAttempts: number;
}

export interface CloudWatchTarget {
  client: CloudWatchClient;
  region: string;
  /** Who is billed and throttled: the quotas are per account and region, so rate limits are keyed by this. */
  quotaKey: string;
  /** Identifies the client (endpoint, region, role): what discovered series are cached under. */
  cacheKey: string;
}

// Clients live as long as the process: they keep their connections, their adaptive-retry state (which slows
// down after throttles) and their assumed-role credentials (refreshed before they expire) from tick to tick.
const clients = new Map<string, CloudWatchTarget>();
let profileRegion: Promise<string | undefined> | undefined;

/**
 * The client for these settings. Credentials come from the SDK's default chain (environment, shared profile,
 * SSO, container or instance role), or from STS AssumeRole with them when `roleArn` is set. The endpoint is
 * the regional one unless `endpoint`, AWS_ENDPOINT_URL_CLOUDWATCH or AWS_ENDPOINT_URL says otherwise (the
 * SDK reads both variables itself).
 */
export async function cloudWatchTarget(settings: ClientSettings, env: NodeJS.ProcessEnv = process.env): Promise<CloudWatchTarget> {
  if (settings.externalId !== undefined && settings.roleArn === undefined) {
    throw new ConfigError('externalId needs roleArn: it is only sent when assuming a role', { field: 'externalId' });
  }
  const region = await resolveRegion(settings.region, env);
  const endpointFromEnv = env.AWS_ENDPOINT_URL_CLOUDWATCH ?? env.AWS_ENDPOINT_URL;
  const key = JSON.stringify([region, settings.endpoint ?? endpointFromEnv ?? '', settings.roleArn ?? '', settings.externalId ?? '', settings.roleSessionName, settings.maxAttempts]);
  const cached = clients.get(key);
  if (cached) return cached;

  const credentials = settings.roleArn
    ? fromTemporaryCredentials({
        params: {
          RoleArn: settings.roleArn,
          RoleSessionName: settings.roleSessionName,
          ...(settings.externalId !== undefined ? { ExternalId: settings.externalId } : {}),
        },
        clientConfig: { region },
      })
    : undefined;
  const client = new CloudWatchClient({
    region,
    retryMode: 'adaptive',
    maxAttempts: settings.maxAttempts,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
  const target = { client, region, quotaKey: `${region}.${settings.roleArn ?? 'default'}`, cacheKey: key };
  clients.set(key, target);
  return target;
}

/** `region` option, else AWS_REGION, else AWS_DEFAULT_REGION, else the shared profile's region; a ConfigError when none. */
async function resolveRegion(configured: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const region = configured ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) return region;
  profileRegion ??= (async () => {
    const probe = new CloudWatchClient({});
    try {
      return await probe.config.region();
    } catch {
      return undefined;
    } finally {
      probe.destroy();
    }
  })();
  const fromProfile = await profileRegion;
  if (!fromProfile) {
    throw new ConfigError('no AWS region: set region in the config, or AWS_REGION in the environment, or a region in the AWS profile', { field: 'region' });
  }
  return fromProfile;
}

/** Closes every client's connections (tests, and a clean exit). */
export function destroyCloudWatchClients(): void {
  for (const { client } of clients.values()) client.destroy();
  clients.clear();
  profileRegion = undefined;
}
