// AWS errors that mean the credentials are missing or refused, as one line naming what to set: retrying cannot heal them.
import { ConfigError } from '../../lib/poller-kit/index.ts';
import type { Role } from './client.ts';

/** The SDK's default chain found no credentials (environment, profile, SSO, process, web identity, container, instance). */
const MISSING = new Set(['CredentialsProviderError']);
/** AWS refused the credentials themselves: an unknown or deleted key, a wrong secret, an expired session token. */
const REFUSED = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'AuthFailure',
]);
/** STS refused to let the credentials assume the role (trust policy, external ID). */
const DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

/** An AssumeRole that failed: what the credential check needs to tell "denied the role" from "denied a call". */
export class AssumeRoleError extends Error {
  override readonly name = 'AssumeRoleError';
  readonly roleArn: string;
  constructor(roleArn: string, cause: unknown) {
    super(`cannot assume ${roleArn}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.roleArn = roleArn;
  }
}

interface Named {
  name?: string;
  message?: string;
  cause?: unknown;
}

/** Where the roles and the process's own credentials are read from, for the line. */
export interface CredentialContext {
  region: string;
  role?: Role | undefined;
  /** The option naming the role: `roleArn` or `roles[2].roleArn`. */
  roleField?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * A ConfigError saying what to set when `error` (or an error it wraps) means that the credentials are missing,
 * refused, or not allowed to assume the role; undefined for every other failure (throttles, 5xx, a network
 * error, a call the credentials may not make), which a later run may get past.
 */
export function credentialError(error: unknown, context: CredentialContext): ConfigError | undefined {
  let assuming: AssumeRoleError | undefined;
  let found: { kind: 'missing' | 'refused' | 'denied'; name: string; message: string } | undefined;
  let e = error as Named | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 6 && !found; depth++, e = e.cause as Named | undefined) {
    if (e instanceof AssumeRoleError) assuming = e;
    const name = e.name ?? '';
    const message = oneLine(e.message ?? '');
    if (MISSING.has(name)) found = { kind: 'missing', name, message };
    else if (REFUSED.has(name)) found = { kind: 'refused', name, message };
    else if (DENIED.has(name) && assuming) found = { kind: 'denied', name, message };
  }
  if (!found) return undefined;
  const env = context.env ?? process.env;
  const role = context.role;
  const field = role ? (context.roleField ?? 'roleArn') : undefined;
  const own = ownCredentials(env);
  const set =
    'set AWS_PROFILE to a profile of ~/.aws/config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ' +
    '(with AWS_SESSION_TOKEN for temporary keys), or run with an instance or container role';
  if (found.kind === 'denied') {
    return new ConfigError(
      `${own} may not assume ${role?.roleArn ?? assuming!.roleArn} (${found.name}: ${found.message}): ` +
        `allow them in the role's trust policy (and give its externalId if it asks for one), or fix ${field ?? 'roleArn'}`,
      field ? { field } : {},
    );
  }
  const purpose = role ? ` to assume ${role.roleArn} with` : '';
  if (found.kind === 'missing') {
    return new ConfigError(`no AWS credentials${purpose}: ${set} (the SDK: ${found.message || found.name})`, field ? { field } : {});
  }
  const by = assuming || !role ? own : `the session of ${role.roleArn}`;
  // AWS answers InvalidClientTokenId also for a region not enabled for the account (opt-in regions).
  const region = found.name === 'InvalidClientTokenId' ? ` (or ${context.region} is not enabled for the account)` : '';
  const where = field ? { field } : {};
  return new ConfigError(`AWS refused ${by} in ${context.region}${region}: ${found.name}: ${found.message}; ${set}`, where);
}

/** Which credentials the process's own are, in the SDK's order: named without their values. */
function ownCredentials(env: NodeJS.ProcessEnv): string {
  if (env.AWS_ACCESS_KEY_ID) return 'the credentials of AWS_ACCESS_KEY_ID';
  if (env.AWS_PROFILE) return `the credentials of AWS_PROFILE=${env.AWS_PROFILE}`;
  return "the default credentials (the SDK's chain)";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
