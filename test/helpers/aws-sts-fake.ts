// STS on the fake's port: who signed each request, and AssumeRole / GetCallerIdentity as @aws-sdk/client-sts really speaks them.
//
// What @aws-sdk/client-sts 3.x sends (read in its dist-cjs/index.js — `protocol: AwsQueryProtocol`,
// `xmlNamespace: "https://sts.amazonaws.com/doc/2011-06-15/"`, `version: "2011-06-15"` — and in @aws-sdk/core's
// AwsQueryProtocol.serializeRequest): the AWS Query protocol, `POST /` with `Content-Type:
// application/x-www-form-urlencoded` and a body `Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…`
// (form-encoded, members by name), signed with SigV4 for the service `sts` in the client's region. Answers
// are XML: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>…`, from
// which the SDK reads the `<Operation>Result` element (AwsQueryProtocol.deserializeResponse); errors are
// `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>…</Message></Error>…` with an
// HTTP status, the SDK naming the error after <Code> (loadQueryErrorCode). Timestamps (Expiration) are
// ISO 8601. Clients using assumed credentials send the session token in `X-Amz-Security-Token`.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AwsError, escapeXml, expiredToken, invalidToken, type CredentialScope } from './aws-protocol-fake.ts';

export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** Who signed a request: an account's user, an assumed-role session, or the fake's own seeding key. */
export interface FakeIdentity {
  accessKeyId: string;
  account: string;
  arn: string;
  userId: string;
  /** The role of an assumed-role session. */
  roleArn?: string;
  /** The seeding key: its data is seen from every account and region (tests written before accounts existed). */
  unscoped?: boolean;
}

interface KeyEntry {
  identity: FakeIdentity;
  secret: string;
  sessionToken?: string;
  /** Epoch ms; assumed-role sessions only. */
  expiresAt?: number;
}

interface RoleEntry {
  externalId?: string;
}

export class StsFake {
  /**
   * Seconds an assumed-role session lasts, whatever DurationSeconds asked: short sessions make renewal
   * testable. Undefined: DurationSeconds (default 3600), as STS does.
   */
  sessionSeconds: number | undefined;
  readonly #keys = new Map<string, KeyEntry>();
  readonly #roles = new Map<string, RoleEntry>();
  #serial = 0;

  /** A long-term access key of `account` (an IAM user). */
  addKey(accessKeyId: string, secret: string, account: string, options: { unscoped?: boolean } = {}): void {
    const identity: FakeIdentity = {
      accessKeyId,
      account,
      arn: `arn:aws:iam::${account}:user/graphite-pollers-test`,
      userId: `AIDA${account}TEST`,
      ...(options.unscoped ? { unscoped: true } : {}),
    };
    this.#keys.set(accessKeyId, { identity, secret });
  }

  /** A role that may be assumed (by any caller), requiring `externalId` when given. Roles not added answer AccessDenied. */
  addRole(roleArn: string, options: { externalId?: string } = {}): void {
    if (!/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) throw new Error(`not a role ARN: ${roleArn}`);
    this.#roles.set(roleArn, { ...(options.externalId !== undefined ? { externalId: options.externalId } : {}) });
  }

  removeRole(roleArn: string): void {
    this.#roles.delete(roleArn);
  }

  /** The identity that signed a request: unknown keys, missing or wrong session tokens and expired sessions are refused as AWS does. */
  identify(scope: CredentialScope, headers: IncomingHttpHeaders): FakeIdentity {
    const entry = this.#keys.get(scope.accessKeyId);
    if (!entry) throw invalidToken();
    const token = headers['x-amz-security-token'];
    if (entry.sessionToken !== undefined) {
      if (token !== entry.sessionToken) throw invalidToken();
      if (!scope.signedHeaders.includes('x-amz-security-token'))
        throw new AwsError(403, 'IncompleteSignature', 'x-amz-security-token is not signed');
      if (Date.now() >= entry.expiresAt!) throw expiredToken();
    } else if (token !== undefined && token !== '') {
      throw invalidToken();
    }
    return entry.identity;
  }

  /** One STS request (form-encoded body): the XML answer, or an AwsError. Returns the Action for the request log. */
  handle(body: string, caller: FakeIdentity): { action: string; xml: string } {
    const params = new URLSearchParams(body);
    const action = params.get('Action') ?? '';
    if (params.get('Version') !== '2011-06-15')
      throw new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version ${params.get('Version')}`);
    switch (action) {
      case 'AssumeRole':
        return { action, xml: this.#assumeRole(params, caller) };
      case 'GetCallerIdentity':
        return {
          action,
          xml: result(
            'GetCallerIdentity',
            `<Arn>${escapeXml(caller.arn)}</Arn><UserId>${escapeXml(caller.userId)}</UserId><Account>${caller.account}</Account>`,
          ),
        };
      default:
        throw new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
    }
  }

  #assumeRole(params: URLSearchParams, caller: FakeIdentity): string {
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    const externalId = params.get('ExternalId') ?? undefined;
    const duration = params.has('DurationSeconds') ? Number(params.get('DurationSeconds')) : 3600;
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn) || roleArn.length > 2048) {
      throw validation(
        `Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ` +
          `[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+`,
      );
    }
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      throw validation(
        `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: ` +
          `Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      throw validation(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    // Role chaining limits a session to one hour; so does a role's default MaxSessionDuration.
    if (duration > 3600) throw validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
      throw validation(
        `Value '${externalId}' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2`,
      );
    }
    const role = this.#roles.get(roleArn);
    if (!role || role.externalId !== externalId) {
      throw new AwsError(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
    }
    const account = /::(\d{12}):/.exec(roleArn)![1]!;
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const roleId = `AROA${account}${String(this.#roles.size).padStart(4, '0')}`;
    const accessKeyId = `ASIA${String(++this.#serial).padStart(6, '0')}${randomBytes(5).toString('hex').toUpperCase()}`;
    const secret = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(96).toString('base64');
    const lifetime = this.sessionSeconds ?? duration;
    const expiresAt = Math.floor(Date.now() / 1000) * 1000 + lifetime * 1000;
    const identity: FakeIdentity = {
      accessKeyId,
      account,
      arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      userId: `${roleId}:${sessionName}`,
      roleArn,
    };
    this.#keys.set(accessKeyId, { identity, secret, sessionToken, expiresAt });
    return result(
      'AssumeRole',
      `<AssumedRoleUser><Arn>${escapeXml(identity.arn)}</Arn>` +
        `<AssumedRoleId>${escapeXml(identity.userId)}</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${escapeXml(secret)}</SecretAccessKey>` +
        `<SessionToken>${escapeXml(sessionToken)}</SessionToken>` +
        `<Expiration>${new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration></Credentials>` +
        `<PackedPolicySize>0</PackedPolicySize>`,
    );
  }
}

const validation = (message: string) => new AwsError(400, 'ValidationError', `1 validation error detected: ${message}`);

function result(operation: string, inner: string): string {
  return (
    `<${operation}Response xmlns="${STS_XMLNS}">\n  <${operation}Result>${inner}</${operation}Result>\n` +
    `  <ResponseMetadata><RequestId>${randomBytes(16).toString('hex')}</RequestId></ResponseMetadata>\n</${operation}Response>\n`
  );
}

/** STS's error document. */
export function stsErrorXml(error: AwsError): string {
  return (
    `<ErrorResponse xmlns="${STS_XMLNS}">\n` +
    `  <Error><Type>${error.fault}</Type><Code>${escapeXml(error.code)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error>\n` +
    `  <RequestId>${randomBytes(16).toString('hex')}</RequestId>\n</ErrorResponse>\n`
  );
}
