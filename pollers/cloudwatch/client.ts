// The SDK clients of one poller instance, one set per region, endpoint and role: credentials and region resolution.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { ConfigError } from '../../lib/poller-kit/index.ts';
import { StsSessions, type StsSettings } from './credentials.ts';
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

/**
 * The clients of one poller instance (a job). They live as long as the instance: they keep their connections and
 * their assumed-role credentials (refreshed before they expire) from tick to tick; `close()` destroys them all.
 */
export class CloudWatchClients {
  readonly #targets = new Map<string, CloudWatchTarget>();
  readonly #taggingClients = new Set<ResourceGroupsTaggingAPIClient>();
  readonly #sts = new StsSessions();
  #profileRegion: Promise<string | undefined> | undefined;

  /**
   * The clients for `spec`. Credentials come from the SDK's default chain (environment, shared profile, SSO,
   * container or instance role), or, with a role, from STS AssumeRole with them (credentials.ts: one session
   * per role for the instance, renewed before it expires). The CloudWatch endpoint is the regional one
   * unless `endpoint`, AWS_ENDPOINT_URL_CLOUDWATCH or AWS_ENDPOINT_URL says otherwise; STS and the Tagging
   * API follow AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API and AWS_ENDPOINT_URL (the SDK
   * reads these variables itself). The SDK does not retry: api-calls.ts does, waiting on the run's clock.
   */
  target(spec: TargetSpec, settings: ClientSettings, env: NodeJS.ProcessEnv = process.env): CloudWatchTarget {
    const { region, role } = spec;
    const endpointFromEnv = env.AWS_ENDPOINT_URL_CLOUDWATCH ?? env.AWS_ENDPOINT_URL;
    const endpoint = settings.endpoint ?? endpointFromEnv ?? '';
    const key = JSON.stringify([region, endpoint, role?.roleArn ?? '', role?.externalId ?? '', settings.roleSessionName]);
    const cached = this.#targets.get(key);
    if (cached) return cached;

    const sts: StsSettings = { region: settings.stsRegion, maxAttempts: settings.maxAttempts };
    const roleSettings = role ? { roleArn: role.roleArn, externalId: role.externalId, sessionName: settings.roleSessionName } : undefined;
    const session = roleSettings ? this.#sts.assumedRole(roleSettings, sts) : undefined;
    // One attempt per send: a retry waits, and waits run on the run's clock and end with its deadline (api-calls.ts).
    const common = { region, retryMode: 'standard', maxAttempts: 1, ...(session ? { credentials: session.provider } : {}) } as const;
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
      tagging: () => {
        if (!tagging) this.#taggingClients.add((tagging = new ResourceGroupsTaggingAPIClient(common)));
        return tagging;
      },
      account: (signal) => (roleAccount !== undefined ? Promise.resolve(roleAccount) : this.#sts.callerAccount(sts, signal)),
    };
    this.#targets.set(key, target);
    return target;
  }

  /** `region` option, else AWS_REGION, else AWS_DEFAULT_REGION, else the shared profile's region; a ConfigError when none. */
  async resolveRegion(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
    const region = configured ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (region) return region;
    this.#profileRegion ??= (async () => {
      const probe = new CloudWatchClient({});
      try {
        return await probe.config.region();
      } catch {
        return undefined;
      } finally {
        probe.destroy();
      }
    })();
    const fromProfile = await this.#profileRegion;
    if (!fromProfile) {
      throw new ConfigError(
        'no AWS region: set region (or regions) in the config, or AWS_REGION in the environment, or a region in the AWS profile',
        { field: 'region' },
      );
    }
    return fromProfile;
  }

  /** Closes every client's connections (CloudWatch, Tagging, STS) and forgets assumed credentials. */
  close(): void {
    for (const { client } of this.#targets.values()) client.destroy();
    for (const client of this.#taggingClients) client.destroy();
    this.#targets.clear();
    this.#taggingClients.clear();
    this.#sts.close();
    this.#profileRegion = undefined;
  }
}
