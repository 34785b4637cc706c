// One set of SDK clients per region, endpoint and role for the whole process: credentials, retries and region resolution.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { ConfigError } from '../../lib/poller-kit/index.ts';
import { assumedRole, callerAccount, resetCredentials, type StsSettings } from './credentials.ts';
import { accountOfRoleArn } from './resource-types.ts';

export interface Role {
  roleArn: string;
  externalId?: string | undefined;
  /** The option naming the role, for error lines: `roleArn` or `roles[1].roleArn`. */
  field?: string | undefined;
}

/** One region read with one identity: a role to assume, or the process's own credentials. */
export interface TargetSpec {
  region: string;
  role?: Role | undefined;
}

export interface ClientSettings {
  endpoint?: string | undefined;
  roleSessionName: string;
  maxAttempts: number;
  /** Where roles are assumed and GetCallerIdentity asked: the job's first region. */
  stsRegion: string;
}

export interface CloudWatchTarget {
  client: CloudWatchClient;
  region: string;
  role: Role | undefined;
  /** Who is billed and throttled: the quotas are per account and region, so rate limits are keyed by this. */
  quotaKey: string;
  /** Identifies the client (endpoint, region, role): what discovered series are cached under. */
  cacheKey: string;
  /** The region and identity, for log lines and error messages. */
  label: string;
  /** The Resource Groups Tagging API client for the same region and identity (created on first use). */
  tagging(): ResourceGroupsTaggingAPIClient;
  /** The 12-digit account read: from the role's ARN, or STS GetCallerIdentity for the process's own credentials. */
  account(signal?: AbortSignal): Promise<string>;
}

// Clients live as long as the process: they keep their connections, their adaptive-retry state (which slows
// down after throttles) and their assumed-role credentials (refreshed before they expire) from tick to tick.
const targets = new Map<string, CloudWatchTarget>();
const taggingClients = new Set<ResourceGroupsTaggingAPIClient>();
let profileRegion: Promise<string | undefined> | undefined;

/**
 * The clients for `spec`. Credentials come from the SDK's default chain (environment, shared profile, SSO,
 * container or instance role), or, with a role, from STS AssumeRole with them (credentials.ts: one session
 * per role for the whole process, renewed before it expires). The CloudWatch endpoint is the regional one
 * unless `endpoint`, AWS_ENDPOINT_URL_CLOUDWATCH or AWS_ENDPOINT_URL says otherwise; STS and the Tagging
 * API follow AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API and AWS_ENDPOINT_URL (the SDK
 * reads these variables itself).
 */
export function cloudWatchTarget(spec: TargetSpec, settings: ClientSettings, env: NodeJS.ProcessEnv = process.env): CloudWatchTarget {
  const { region, role } = spec;
  const endpointFromEnv = env.AWS_ENDPOINT_URL_CLOUDWATCH ?? env.AWS_ENDPOINT_URL;
  const key = JSON.stringify([region, settings.endpoint ?? endpointFromEnv ?? '', role?.roleArn ?? '', role?.externalId ?? '', settings.roleSessionName, settings.maxAttempts]);
  const cached = targets.get(key);
  if (cached) return cached;

  const sts: StsSettings = { region: settings.stsRegion, maxAttempts: settings.maxAttempts };
  const credentials = role ? assumedRole({ roleArn: role.roleArn, externalId: role.externalId, sessionName: settings.roleSessionName }, sts).provider : undefined;
  const common = { region, retryMode: 'adaptive', maxAttempts: settings.maxAttempts, ...(credentials ? { credentials } : {}) } as const;
  const client = new CloudWatchClient({ ...common, ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}) });
  let tagging: ResourceGroupsTaggingAPIClient | undefined;
  const roleAccount = role ? accountOfRoleArn(role.roleArn) : undefined;
  const target: CloudWatchTarget = {
    client,
    region,
    role,
    quotaKey: `${region}.${role?.roleArn ?? 'default'}`,
    cacheKey: key,
    label: role ? `${region} as ${role.roleArn}` : `${region} (default credentials)`,
    tagging() {
      if (!tagging) taggingClients.add((tagging = new ResourceGroupsTaggingAPIClient(common)));
      return tagging;
    },
    account: (signal) => (roleAccount !== undefined ? Promise.resolve(roleAccount) : callerAccount(sts, signal)),
  };
  targets.set(key, target);
  return target;
}

/** `region` option, else AWS_REGION, else AWS_DEFAULT_REGION, else the shared profile's region; a ConfigError when none. */
export async function resolveRegion(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
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
    throw new ConfigError('no AWS region: set region (or regions) in the config, or AWS_REGION in the environment, or a region in the AWS profile', { field: 'region' });
  }
  return fromProfile;
}

/** Closes every client's connections and forgets assumed credentials (tests, and a clean exit). */
export function destroyCloudWatchClients(): void {
  for (const { client } of targets.values()) client.destroy();
  for (const client of taggingClients) client.destroy();
  targets.clear();
  taggingClients.clear();
  resetCredentials();
  profileRegion = undefined;
}
