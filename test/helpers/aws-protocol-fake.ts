// What the AWS fakes share: the SigV4 credential scope of a request, and API errors rendered the way each protocol does.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/** The services on the fake's port, by the signing name in the SigV4 credential scope. */
export type FakeService = 'monitoring' | 'tagging' | 'sts';

export interface CredentialScope {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: FakeService;
  signedHeaders: string[];
}

/**
 * An AWS API error, with what each protocol needs to render it: the query-style `code` (STS's <Code>, and
 * CloudWatch's x-amzn-query-error header), the JSON `__type` of the JSON protocols, the HTTP status and the
 * fault (Sender for the caller's mistakes, Receiver for the service's).
 */
export class AwsError extends Error {
  readonly status: number;
  readonly code: string;
  readonly jsonType: string;
  readonly fault: 'Sender' | 'Receiver';
  constructor(status: number, code: string, message: string, options: { jsonType?: string; fault?: 'Sender' | 'Receiver' } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.jsonType = options.jsonType ?? code;
    this.fault = options.fault ?? (status >= 500 ? 'Receiver' : 'Sender');
  }
}

/** The answer AWS gives a key it does not know, and a region not enabled for the account (opt-in regions). */
export const invalidToken = () =>
  new AwsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.', {
    jsonType: 'com.amazon.coral.service#UnrecognizedClientException',
  });
export const expiredToken = () =>
  new AwsError(400, 'ExpiredToken', 'The security token included in the request is expired', {
    jsonType: 'com.amazon.coral.service#ExpiredTokenException',
  });

const AUTHORIZATION = new RegExp(
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/(monitoring|tagging|sts)\/aws4_request, /.source +
    /SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.source,
);

/**
 * `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=…,
 * Signature=<64 hex>` as the SDK signs every request. The signature itself is not verified (the secret of
 * a test key proves nothing); the scope tells the fake which region and service the client meant.
 */
export function credentialScope(headers: IncomingHttpHeaders): CredentialScope {
  const match = AUTHORIZATION.exec(String(headers.authorization ?? ''));
  if (!match || !headers['x-amz-date']) {
    throw new AwsError(403, 'MissingAuthenticationToken', 'Missing Authentication Token', {
      jsonType: 'com.amazon.coral.service#MissingAuthenticationTokenException',
    });
  }
  return {
    accessKeyId: match[1]!,
    date: match[2]!,
    region: match[3]!,
    service: match[4] as FakeService,
    signedHeaders: match[5]!.split(';'),
  };
}

/** An AWS JSON answer (1.0 for CloudWatch, 1.1 for the Tagging API). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  version: '1.0' | '1.1',
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': `application/x-amz-json-${version}`,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(text);
}

/** An AWS Query answer (STS): XML. */
export function sendXml(response: ServerResponse, status: number, xml: string): void {
  response.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': randomUUID() });
  response.end(xml);
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
