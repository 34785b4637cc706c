// Which AWS resources a CloudWatch namespace measures: the Tagging API's resource type, and the dimension its ARN gives.

/**
 * One kind of resource whose metrics a namespace holds. `type` is what the Resource Groups Tagging API's
 * GetResources takes as a ResourceTypeFilter (`service` or `service:resourceType`); `pattern` is matched
 * against the ARN's resource part (everything after `arn:partition:service:region:account:`) and its first
 * group is the value of `dimension`, as CloudWatch names it.
 *
 * ARN formats and dimension names from the AWS service authorization reference and each service's
 * "CloudWatch metrics" page; they agree with YACE's table (pkg/config/services.go).
 */
export interface ResourceKind {
  type: string;
  dimension: string;
  pattern: RegExp;
  /** How the ARN looks, for error messages and docs. */
  example: string;
}

/**
 * Namespace → the resource kinds it measures. The first kind of a namespace is what a metric entry with
 * `tags` selects unless it names another with `resourceType` (RDS clusters rather than instances, say).
 * Classic, application and network load balancers share one resource type: the ARN tells them apart.
 */
export const RESOURCE_KINDS: Readonly<Record<string, readonly ResourceKind[]>> = {
  'AWS/EC2': [
    {
      type: 'ec2:instance',
      dimension: 'InstanceId',
      pattern: /^instance\/(i-[0-9a-f]+)$/,
      example: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123',
    },
  ],
  'AWS/EBS': [
    {
      type: 'ec2:volume',
      dimension: 'VolumeId',
      pattern: /^volume\/(vol-[0-9a-f]+)$/,
      example: 'arn:aws:ec2:eu-west-1:123456789012:volume/vol-0abc123',
    },
  ],
  'AWS/NATGateway': [
    {
      type: 'ec2:natgateway',
      dimension: 'NatGatewayId',
      pattern: /^natgateway\/(nat-[0-9a-f]+)$/,
      example: 'arn:aws:ec2:eu-west-1:123456789012:natgateway/nat-0abc123',
    },
  ],
  'AWS/ELB': [
    {
      type: 'elasticloadbalancing:loadbalancer',
      dimension: 'LoadBalancerName',
      pattern: /^loadbalancer\/([^/]+)$/,
      example: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/my-classic-lb',
    },
  ],
  'AWS/ApplicationELB': [
    {
      type: 'elasticloadbalancing:loadbalancer',
      dimension: 'LoadBalancer',
      pattern: /^loadbalancer\/(app\/[^/]+\/[^/]+)$/,
      example: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188',
    },
  ],
  'AWS/NetworkELB': [
    {
      type: 'elasticloadbalancing:loadbalancer',
      dimension: 'LoadBalancer',
      pattern: /^loadbalancer\/(net\/[^/]+\/[^/]+)$/,
      example: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/edge/73e2d6bc24d8a067',
    },
  ],
  'AWS/RDS': [
    {
      type: 'rds:db',
      dimension: 'DBInstanceIdentifier',
      pattern: /^db:([^:/]+)$/,
      example: 'arn:aws:rds:eu-west-1:123456789012:db:orders-db',
    },
    {
      type: 'rds:cluster',
      dimension: 'DBClusterIdentifier',
      pattern: /^cluster:([^:/]+)$/,
      example: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders-cluster',
    },
  ],
  'AWS/SQS': [{ type: 'sqs', dimension: 'QueueName', pattern: /^([^:/]+)$/, example: 'arn:aws:sqs:eu-west-1:123456789012:orders-queue' }],
  'AWS/SNS': [{ type: 'sns', dimension: 'TopicName', pattern: /^([^:/]+)$/, example: 'arn:aws:sns:eu-west-1:123456789012:alerts' }],
  'AWS/Lambda': [
    {
      type: 'lambda:function',
      dimension: 'FunctionName',
      pattern: /^function:([^:/]+)$/,
      example: 'arn:aws:lambda:eu-west-1:123456789012:function:resize-images',
    },
  ],
  'AWS/DynamoDB': [
    {
      type: 'dynamodb:table',
      dimension: 'TableName',
      pattern: /^table\/([^/]+)$/,
      example: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders',
    },
  ],
  'AWS/ElastiCache': [
    {
      type: 'elasticache:cluster',
      dimension: 'CacheClusterId',
      pattern: /^cluster:([^:/]+)$/,
      example: 'arn:aws:elasticache:eu-west-1:123456789012:cluster:sessions-0001-001',
    },
  ],
  'AWS/Kinesis': [
    {
      type: 'kinesis:stream',
      dimension: 'StreamName',
      pattern: /^stream\/([^/]+)$/,
      example: 'arn:aws:kinesis:eu-west-1:123456789012:stream/clicks',
    },
  ],
  'AWS/Firehose': [
    {
      type: 'firehose:deliverystream',
      dimension: 'DeliveryStreamName',
      pattern: /^deliverystream\/([^/]+)$/,
      example: 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/logs',
    },
  ],
  'AWS/EFS': [
    {
      type: 'elasticfilesystem:file-system',
      dimension: 'FileSystemId',
      pattern: /^file-system\/(fs-[0-9a-f]+)$/,
      example: 'arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0abc123',
    },
  ],
  'AWS/Redshift': [
    {
      type: 'redshift:cluster',
      dimension: 'ClusterIdentifier',
      pattern: /^cluster:([^:/]+)$/,
      example: 'arn:aws:redshift:eu-west-1:123456789012:cluster:warehouse',
    },
  ],
};

/** Namespaces whose metric entries may select resources by tag. */
export const TAGGABLE_NAMESPACES = Object.keys(RESOURCE_KINDS);

export interface Arn {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** Everything after the account: `instance/i-0abc`, `db:orders`, `orders-queue`. */
  resource: string;
}

/** `arn:partition:service:region:account:resource`, or undefined for anything else. */
export function parseArn(arn: string): Arn | undefined {
  const match = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|):(.+)$/.exec(arn);
  if (!match) return undefined;
  return { partition: match[1]!, service: match[2]!, region: match[3]!, account: match[4]!, resource: match[5]! };
}

/** The kind a metric entry selects: `resourceType` when given (it must be one of the namespace's), else the namespace's first. */
export function resourceKind(namespace: string, resourceType?: string): ResourceKind | undefined {
  const kinds = RESOURCE_KINDS[namespace];
  if (!kinds) return undefined;
  return resourceType === undefined ? kinds[0] : kinds.find((kind) => kind.type === resourceType);
}

/**
 * The CloudWatch dimension of the resource `arn`, as `[name, value]`, when the ARN is of `kind`; undefined
 * otherwise (an ALB's ARN under AWS/ELB, a Lambda version's ARN, an ARN of another service).
 */
export function dimensionOf(kind: ResourceKind, arn: string): readonly [name: string, value: string] | undefined {
  const parsed = parseArn(arn);
  if (!parsed) return undefined;
  const service = kind.type.split(':')[0];
  if (parsed.service !== service) return undefined;
  const value = kind.pattern.exec(parsed.resource)?.[1];
  return value === undefined ? undefined : [kind.dimension, value];
}

/** The 12-digit account of an IAM role ARN (`arn:aws:iam::123456789012:role/reader`). */
export function accountOfRoleArn(roleArn: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(roleArn)?.[1];
}
