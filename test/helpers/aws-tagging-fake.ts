// The Resource Groups Tagging API's GetResources on the fake's port, per account and region, as the SDK really speaks it.
//
// What @aws-sdk/client-resource-groups-tagging-api 3.x sends (read in its dist-cjs/index.js — `protocol:
// AwsJson1_1Protocol`, `serviceTarget: "ResourceGroupsTaggingAPI_20170126"`, signing name `tagging` — and in
// @aws-sdk/core's AwsJsonRpcProtocol.serializeRequest): `POST /`, `Content-Type: application/x-amz-json-1.1`,
// `X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources`, a JSON body, SigV4 for `tagging` in the
// client's region. Answers are JSON 1.1; errors carry their name in the body's `__type` (the SDK strips any
// `namespace#` prefix). GetResources (API reference, and the SDK's model docs): TagFilters ANDed, a filter's
// Values ORed, a filter without Values matching any value of the key; at most 50 filters of 20 values;
// ResourcesPerPage 1 to 100; ResourceTypeFilters `service[:resourceType]`, at most 100; ResourceARNList not
// with either filter; the last page answers an empty PaginationToken.
import { createHash } from 'node:crypto';
import { AwsError } from './aws-protocol-fake.ts';

const LIMITS = { tagFilters: 50, valuesPerFilter: 20, resourceTypeFilters: 100, resourcesPerPage: 100, arnList: 100 } as const;

const invalidParameter = (message: string) => new AwsError(400, 'InvalidParameterException', message);

interface TagFilter {
  Key?: string;
  Values?: string[];
}

export class TaggingFake {
  /** `account/region` → ARN → tags. */
  readonly #resources = new Map<string, Map<string, Record<string, string>>>();

  /** Tags a resource (replacing its tags); its account and region come from its ARN. */
  tagResource(arn: string, tags: Record<string, string>): void {
    const scope = scopeOfArn(arn);
    if (!scope) throw new Error(`the fake keeps resources of ARNs with a region and an account, not ${arn}`);
    let resources = this.#resources.get(scope);
    if (!resources) this.#resources.set(scope, (resources = new Map()));
    resources.set(arn, { ...tags });
  }

  untagResource(arn: string): void {
    this.#resources.get(scopeOfArn(arn) ?? '')?.delete(arn);
  }

  /** GetResources for the caller's account in the request's region. */
  getResources(body: Record<string, unknown>, account: string, region: string): unknown {
    const tagFilters = (body.TagFilters ?? []) as TagFilter[];
    const typeFilters = (body.ResourceTypeFilters ?? []) as string[];
    const arnList = body.ResourceARNList as string[] | undefined;
    if (tagFilters.length > LIMITS.tagFilters) throw invalidParameter(`TagFilters can include up to ${LIMITS.tagFilters} keys`);
    for (const filter of tagFilters) {
      if (typeof filter.Key !== 'string' || filter.Key.length < 1 || filter.Key.length > 128)
        throw invalidParameter('Each TagFilter must contain a key of 1 to 128 characters');
      if ((filter.Values ?? []).length > LIMITS.valuesPerFilter)
        throw invalidParameter(`Each key can include up to ${LIMITS.valuesPerFilter} values`);
    }
    if (typeFilters.length > LIMITS.resourceTypeFilters)
      throw invalidParameter(`ResourceTypeFilters can include up to ${LIMITS.resourceTypeFilters} resource types`);
    if (arnList !== undefined && (tagFilters.length > 0 || typeFilters.length > 0))
      throw invalidParameter("You can't specify ResourceARNList with TagFilters or ResourceTypeFilters");
    if (arnList !== undefined && arnList.length > LIMITS.arnList)
      throw invalidParameter(`ResourceARNList can include up to ${LIMITS.arnList} ARNs`);
    const perPage = body.ResourcesPerPage === undefined ? LIMITS.resourcesPerPage : Number(body.ResourcesPerPage);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > LIMITS.resourcesPerPage) {
      throw invalidParameter(`ResourcesPerPage must be between 1 and ${LIMITS.resourcesPerPage}`);
    }

    const all = [...(this.#resources.get(`${account}/${region}`) ?? new Map<string, Record<string, string>>()).entries()];
    const matching = all.filter(
      ([arn, tags]) =>
        (arnList === undefined || arnList.includes(arn)) &&
        (typeFilters.length === 0 || typeFilters.some((filter) => typeMatches(filter, arn))) &&
        tagFilters.every((f) => Object.hasOwn(tags, f.Key!) && ((f.Values ?? []).length === 0 || f.Values!.includes(tags[f.Key!]!))),
    );
    const print = fingerprint(body);
    const offset = readToken(body.PaginationToken, print);
    const page = matching.slice(offset, offset + perPage);
    const next = offset + page.length < matching.length ? makeToken(offset + page.length, print) : '';
    return {
      PaginationToken: next,
      ResourceTagMappingList: page.map(([arn, tags]) => ({
        ResourceARN: arn,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      })),
    };
  }
}

/** `account/region` of `arn:partition:service:region:account:resource`. */
function scopeOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn' || !parts[3] || !/^\d{12}$/.test(parts[4]!)) return undefined;
  return `${parts[4]}/${parts[3]}`;
}

/** `service` matches the ARN's service; `service:type` also its resource type (`type/…` or `type:…`). */
function typeMatches(filter: string, arn: string): boolean {
  const [service, type] = filter.split(':', 2) as [string, string | undefined];
  const parts = arn.split(':');
  if (parts[2] !== service) return false;
  if (type === undefined) return true;
  const resource = parts.slice(5).join(':');
  return resource === type || resource.startsWith(`${type}/`) || resource.startsWith(`${type}:`);
}

function fingerprint(body: Record<string, unknown>): string {
  const { PaginationToken: _, ...rest } = body;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

function makeToken(offset: number, print: string): string {
  return Buffer.from(JSON.stringify({ offset, print })).toString('base64');
}

function readToken(token: unknown, print: string): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as { offset: number; print: string };
    if (parsed.print === print && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through
  }
  throw invalidParameter('The specified pagination token is not valid');
}
