// The region × role pairs one job reads: `regions` and `roles`, or the single `region` and `roleArn` of older configs.
import { ConfigError } from '../../lib/poller-kit/index.ts';
import type { ClientSettings, Role, TargetSpec } from './client.ts';
import type { CloudWatchOptions } from './options.ts';

export interface JobTargets {
  specs: TargetSpec[];
  settings: ClientSettings;
  /** True when the job lists `roles`: its default path then names the account. */
  multiAccount: boolean;
}

/**
 * Every region crossed with every role, regions first (`eu-west-1` with each role, then `us-east-1` …). A job
 * without `regions` reads its one region (the `region` option or the environment's); a job without `roles`
 * reads with `roleArn` if set, else with the process's own credentials. `resolveRegion` finds the region of a job
 * without `regions` (the instance's CloudWatchClients.resolveRegion: option, environment, then AWS profile).
 */
export async function jobTargets(
  options: CloudWatchOptions,
  resolveRegion: (configured: string | undefined) => Promise<string>,
): Promise<JobTargets> {
  if (options.region !== undefined && options.regions !== undefined) {
    throw new ConfigError('give region or regions, not both', { field: 'regions' });
  }
  if (options.roleArn !== undefined && options.roles !== undefined) {
    throw new ConfigError('give roleArn or roles, not both (list the role under roles)', { field: 'roles' });
  }
  if (options.externalId !== undefined && options.roleArn === undefined) {
    throw new ConfigError('externalId needs roleArn: it is only sent when assuming a role', { field: 'externalId' });
  }
  const regions = options.regions ? [...new Set(options.regions)] : [await resolveRegion(options.region)];
  const roles: Array<Role | undefined> = options.roles
    ? dedupe(options.roles.map((entry, i) => (entry === 'default' ? undefined : { ...entry, field: `roles[${i}].roleArn` })))
    : [options.roleArn !== undefined ? { roleArn: options.roleArn, externalId: options.externalId, field: 'roleArn' } : undefined];
  return {
    specs: regions.flatMap((region) => roles.map((role) => ({ region, role }))),
    settings: {
      endpoint: options.endpoint,
      roleSessionName: options.roleSessionName,
      maxAttempts: options.maxAttempts,
      stsRegion: regions[0]!,
    },
    multiAccount: options.roles !== undefined,
  };
}

function dedupe(roles: Array<Role | undefined>): Array<Role | undefined> {
  const seen = new Set<string>();
  return roles.filter((role) => {
    const key = role ? `${role.roleArn}\n${role.externalId ?? ''}` : '';
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
