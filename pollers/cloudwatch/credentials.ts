// Assumed-role credentials (STS AssumeRole) shared by every client of a poller instance reading with the role, refreshed
// before they expire; account ids.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AssumeRoleError } from './credential-errors.ts';

/**
 * Assumed credentials are renewed when less than this is left of them. The SDK's clients ask their credential
 * provider again once their credentials are within 5 minutes of expiring (@smithy/core EXPIRATION_MS), so the
 * same margin here means a client that asks always gets credentials it will not call expired.
 */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/** Requested session length: STS's default, and the longest a chained role session may have. */
export const SESSION_SECONDS = 3600;
const STS_TIMEOUT_MS = 30_000;

export interface StsSettings {
  /** Where STS is asked (regional endpoint); AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL apply as usual. */
  region: string;
  maxAttempts: number;
}

export interface RoleSettings {
  roleArn: string;
  externalId?: string | undefined;
  sessionName: string;
}

/** The SDK's AwsCredentialIdentity, with the expiry STS always gives. */
export interface Expiring {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration: Date;
}

/**
 * One role's credentials for a poller instance (a job): every client that reads with the role (one per region, and
 * the Tagging API's) shares them, so a job of ten regions assumes each role once per session, not ten times.
 * Concurrent requests share one AssumeRole call. When renewing fails while the current credentials still
 * hold, those are used (the next request tries again), so a brief STS outage costs nothing.
 */
export class AssumedRole {
  readonly #role: RoleSettings;
  readonly #sts: () => STSClient;
  readonly #now: () => number;
  #current: Expiring | undefined;
  #pending: Promise<Expiring> | undefined;
  /** AssumeRole calls made (tests and self-metrics). */
  calls = 0;

  /** `sts` gives the STS client to ask (made on first use); `now` is the wall clock, as STS's expiry times are. */
  constructor(role: RoleSettings, sts: () => STSClient, now: () => number = Date.now) {
    this.#role = role;
    this.#sts = sts;
    this.#now = now;
  }

  /** The SDK's credential provider for clients using this role. */
  readonly provider = (): Promise<Expiring> => this.credentials();

  async credentials(): Promise<Expiring> {
    const current = this.#current;
    if (current && current.expiration.getTime() - this.#now() > REFRESH_BEFORE_EXPIRY_MS) return current;
    this.#pending ??= this.#assume().finally(() => (this.#pending = undefined));
    try {
      return await this.#pending;
    } catch (error) {
      if (current && current.expiration.getTime() > this.#now()) return current;
      throw error;
    }
  }

  async #assume(): Promise<Expiring> {
    this.calls++;
    try {
      const output = await this.#sts().send(
        new AssumeRoleCommand({
          RoleArn: this.#role.roleArn,
          RoleSessionName: this.#role.sessionName,
          DurationSeconds: SESSION_SECONDS,
          ...(this.#role.externalId !== undefined ? { ExternalId: this.#role.externalId } : {}),
        }),
        { abortSignal: AbortSignal.timeout(STS_TIMEOUT_MS) },
      );
      const c = output.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) throw new Error('STS answered AssumeRole without credentials');
      this.#current = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
      return this.#current;
    } catch (error) {
      throw new AssumeRoleError(this.#role.roleArn, error);
    }
  }
}

/**
 * The STS side of one poller instance: its STS clients, the roles it assumed and the account of its own
 * credentials. `close()` destroys the clients (their connections) and forgets the sessions.
 */
export class StsSessions {
  readonly #clients = new Map<string, STSClient>();
  readonly #roles = new Map<string, AssumedRole>();
  readonly #callerAccounts = new Map<string, Promise<string>>();

  /** The AssumedRole for these settings, shared by every client of this instance that reads with the role. */
  assumedRole(role: RoleSettings, sts: StsSettings): AssumedRole {
    const key = JSON.stringify([role.roleArn, role.externalId ?? '', role.sessionName, sts.region, sts.maxAttempts]);
    let assumed = this.#roles.get(key);
    if (!assumed) this.#roles.set(key, (assumed = new AssumedRole(role, () => this.#client(sts))));
    return assumed;
  }

  /**
   * The account of the process's own credentials, from STS GetCallerIdentity: asked once per instance (the
   * answer never changes), only when something needs it ({account} in a path, roles listing "default").
   */
  callerAccount(sts: StsSettings, signal?: AbortSignal): Promise<string> {
    const key = JSON.stringify([sts.region, sts.maxAttempts]);
    let account = this.#callerAccounts.get(key);
    if (!account) {
      account = (async () => {
        const output = await this.#client(sts).send(new GetCallerIdentityCommand({}), {
          abortSignal: signal ?? AbortSignal.timeout(STS_TIMEOUT_MS),
        });
        if (!output.Account) throw new Error('STS answered GetCallerIdentity without an account');
        return output.Account;
      })();
      this.#callerAccounts.set(key, account);
      // A failure is not remembered: the next run asks again.
      account.catch(() => this.#callerAccounts.delete(key));
    }
    return account;
  }

  /** Closes the STS clients and forgets every session and account. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
    this.#roles.clear();
    this.#callerAccounts.clear();
  }

  #client(settings: StsSettings): STSClient {
    const key = JSON.stringify([settings.region, settings.maxAttempts]);
    let client = this.#clients.get(key);
    if (!client)
      this.#clients.set(
        key,
        (client = new STSClient({ region: settings.region, maxAttempts: settings.maxAttempts, retryMode: 'adaptive' })),
      );
    return client;
  }
}
