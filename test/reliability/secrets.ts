// Secrets: every poller runs with recognisable fake credentials in the environment, in its config and in a key file,
// at LOG_LEVEL info and debug, in runs that succeed and runs that fail. No secret may appear on stdout, stderr, in a
// state file or in what reaches Graphite.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchFake, FAKE_ACCOUNT } from '../helpers/cloudwatch-fake.ts';
import { Ga4Fake } from '../helpers/ga4-fake.ts';
import { GitHubFake } from '../helpers/github-fake.ts';
import { GraphiteHttpIngest } from '../helpers/graphite-http-ingest.ts';
import { makeTestCertificates } from '../helpers/test-certificates.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { runCommand, type CommandResult } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { count, CountingServer, filesUnder, readAll, report } from './harness.ts';

const mark = (name: string) => `rlb${name}${randomBytes(6).toString('hex')}`;
const SECRETS = {
  apiToken: mark('ApiToken'),
  apiKeyInQuery: mark('QueryKey'),
  urlPassword: mark('UrlPass'),
  githubToken: `ghp_${mark('GitHub')}`,
  awsAccessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  awsSecretAccessKey: mark('AwsSecret'),
  awsSessionToken: mark('AwsSession'),
  googleAccessToken: `ya29.${mark('Google')}`,
  wrongGithubToken: `ghp_${mark('Wrong')}`,
  graphiteToken: `glc_${mark('GraphiteToken')}`,
  graphiteAuthBad: mark('GraphiteAuthNoColon'),
};

interface Run {
  name: string;
  args: string[];
  env: Record<string, string>;
  /** Runs meant to fail (exit 1 for --once) still must not leak. */
  fails: boolean;
  /** The exit code of a failing run when it is not 1 (78: refused at configuration time). */
  exitCode?: number;
  /** Sent to this https:// ingestion endpoint instead of the counting TCP server. */
  graphiteUrl?: string;
}

/** Fake credentials everywhere, every poller, good and failing runs. */
export function secretsNeverLeak(): void {
  describe('secrets never leave the process', () => {
    const work = tempDir('rel-secrets');
    const graphite = new Map<string, CountingServer>();
    let api: TestHttpServer;
    let github: GitHubFake;
    let aws: CloudWatchFake;
    let ga: Ga4Fake;
    let ingest: GraphiteHttpIngest;
    let keyLines: string[] = [];
    const runs: Run[] = [];
    const results: Array<{ run: Run; level: string; result: CommandResult; state: string; wire: string }> = [];

    beforeAll(async () => {
      // An API that answers 401 and echoes the request (headers, query) in its error body, as some do.
      api = await TestHttpServer.start((request, response) => {
        if (request.headers.authorization !== `Bearer ${SECRETS.apiToken}` || request.url?.includes('deny')) {
          response.writeHead(401, { 'content-type': 'application/json' });
          return void response.end(
            JSON.stringify({ error: 'unauthorized', url: request.url, authorization: request.headers.authorization }),
          );
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ requests: 12, up: true }));
      });
      github = await GitHubFake.start();
      github.addToken(SECRETS.githubToken);
      github.addRepository('acme/widgets', { stargazers_count: 3 });
      aws = await CloudWatchFake.start();
      // The fake knows the key pair, as AWS would (it checks the key id; the signature it does not verify).
      aws.sts.addKey(SECRETS.awsAccessKeyId, SECRETS.awsSecretAccessKey, FAKE_ACCOUNT);
      const minute = Math.floor(Date.now() / 300_000) * 300 - 300;
      const data: MetricDatum[] = [
        { MetricName: 'Requests', Value: 5, Timestamp: new Date(minute * 1000), Dimensions: [{ Name: 'Service', Value: 'api' }] },
      ];
      await aws.seed('Test/App', data);
      ga = await Ga4Fake.start({ tokens: [SECRETS.googleAccessToken] });
      const certificates = makeTestCertificates();
      ingest = await GraphiteHttpIngest.start(certificates, { user: '424242', token: SECRETS.graphiteToken });
      ga.addProperty({
        id: '3000',
        timeZone: 'UTC',
        realtime: [{ minute: Math.floor(Date.now() / 60_000) * 60 - 60, metrics: { activeUsers: 4 } }],
      });

      // A service account key: its private key must never be printed, even when signing in fails.
      const { privateKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      keyLines = privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
      const keyFile = join(work, 'service-account.json');
      writeFileSync(
        keyFile,
        JSON.stringify({
          type: 'service_account',
          client_email: 'poller@reliability.iam.gserviceaccount.com',
          private_key: privateKey,
          private_key_id: 'k1',
          token_uri: 'http://127.0.0.1:9/token',
        }),
      );

      const file = (name: string, text: string) => {
        const path = join(work, `${name}.yaml`);
        writeFileSync(path, text);
        return path;
      };
      const env = {
        RELIABILITY_API_TOKEN: SECRETS.apiToken,
        GITHUB_TOKEN: SECRETS.githubToken,
        AWS_ACCESS_KEY_ID: SECRETS.awsAccessKeyId,
        AWS_SECRET_ACCESS_KEY: SECRETS.awsSecretAccessKey,
        AWS_SESSION_TOKEN: SECRETS.awsSessionToken,
        AWS_CONFIG_FILE: join(work, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
        AWS_PROFILE: '',
        GOOGLE_OAUTH_ACCESS_TOKEN: SECRETS.googleAccessToken,
        GOOGLE_APPLICATION_CREDENTIALS: '',
      };
      const cloudwatchConfig = (endpoint: string) =>
        `region: eu-west-1\nendpoint: ${endpoint}\nmetrics:\n  - namespace: Test/App\n    name: Requests\n` +
        `    dimensions: { Service: api }\n    stats: [Sum]\n`;
      const gaConfig = (extra = '') => `propertyId: 3000\napiRoot: ${ga.url}\nrealtime:\n  - metrics: [activeUsers]\n${extra}`;
      const headers = 'headers:\n  Authorization: Bearer ${RELIABILITY_API_TOKEN}\n';
      runs.push(
        { name: 'host', args: ['bin/poll.ts', 'host', '--once'], env, fails: false },
        {
          name: 'http-json',
          args: [
            'bin/poll.ts',
            'http-json',
            '--once',
            '--config',
            file('http-ok', `url: ${api.url}/status?api_key=${SECRETS.apiKeyInQuery}\n${headers}`),
          ],
          env,
          fails: false,
        },
        {
          name: 'http-json 401 echoing the request',
          args: [
            'bin/poll.ts',
            'http-json',
            '--once',
            '--config',
            file('http-denied', `url: ${api.url}/deny?api_key=${SECRETS.apiKeyInQuery}\n${headers}`),
          ],
          env,
          fails: true,
        },
        {
          name: 'http-json unreachable',
          args: [
            'bin/poll.ts',
            'http-json',
            '--once',
            '--config',
            file('http-down', `url: http://127.0.0.1:65535/status?api_key=${SECRETS.apiKeyInQuery}\n${headers}`),
          ],
          env,
          fails: true,
        },
        {
          name: 'http-json credentials in the URL',
          args: [
            'bin/poll.ts',
            'http-json',
            '--once',
            '--config',
            file('http-userinfo', `url: http://user:${SECRETS.urlPassword}@127.0.0.1:65535/status\n`),
          ],
          env,
          fails: true,
          exitCode: 78,
        },
        {
          name: 'github',
          args: [
            'bin/poll.ts',
            'github',
            '--once',
            '--config',
            file('github-ok', `repositories: [acme/widgets]\napiRoot: ${github.apiRoot}\ntoken: \${GITHUB_TOKEN}\n`),
          ],
          env,
          fails: false,
        },
        {
          name: 'github bad credentials',
          args: [
            'bin/poll.ts',
            'github',
            '--once',
            '--config',
            file('github-denied', `repositories: [acme/widgets]\napiRoot: ${github.apiRoot}\ntoken: \${GITHUB_TOKEN}\n`),
          ],
          env: { ...env, GITHUB_TOKEN: SECRETS.wrongGithubToken },
          fails: true,
          exitCode: 78,
        },
        // A long-term key pair works alone; with a session token the fake refuses it, as AWS does.
        {
          name: 'cloudwatch',
          args: ['bin/poll.ts', 'cloudwatch', '--once', '--config', file('cloudwatch-ok', cloudwatchConfig(aws.url))],
          env: { ...env, AWS_SESSION_TOKEN: '' },
          fails: false,
        },
        {
          name: 'cloudwatch credentials refused',
          args: ['bin/poll.ts', 'cloudwatch', '--once', '--config', file('cloudwatch-denied', cloudwatchConfig(aws.url))],
          env,
          fails: true,
          exitCode: 78,
        },
        {
          name: 'google-analytics',
          args: ['bin/poll.ts', 'google-analytics', '--once', '--config', file('ga-ok', gaConfig())],
          env,
          fails: false,
        },
        {
          name: 'google-analytics token refused',
          args: ['bin/poll.ts', 'google-analytics', '--once', '--config', file('ga-denied', gaConfig())],
          env: { ...env, GOOGLE_OAUTH_ACCESS_TOKEN: `${SECRETS.googleAccessToken}x` },
          fails: true,
        },
        // https:// Graphite: GRAPHITE_USER/GRAPHITE_TOKEN, GRAPHITE_AUTH, and a malformed GRAPHITE_AUTH refused at start.
        ...(['user and token', 'auth'] as const).map((form) => ({
          name: `host to an https:// Graphite with ${form}`,
          args: ['bin/poll.ts', 'host', '--once'],
          env: {
            ...env,
            GRAPHITE_TLS_CA: certificates.caFile,
            ...(form === 'auth'
              ? { GRAPHITE_AUTH: `424242:${SECRETS.graphiteToken}` }
              : { GRAPHITE_USER: '424242', GRAPHITE_TOKEN: SECRETS.graphiteToken }),
          },
          fails: false,
          graphiteUrl: ingest.url,
        })),
        {
          name: 'https:// Graphite with a malformed GRAPHITE_AUTH',
          args: ['bin/poll.ts', 'host', '--once'],
          env: { ...env, GRAPHITE_AUTH: SECRETS.graphiteAuthBad },
          fails: true,
          exitCode: 78,
          graphiteUrl: ingest.url,
        },
        {
          name: 'google-analytics key file, sign-in fails',
          args: ['bin/poll.ts', 'google-analytics', '--once', '--config', file('ga-key', gaConfig(`keyFile: ${keyFile}\n`))],
          env,
          fails: true,
        },
      );

      const limit = pLimit(4);
      await Promise.all(
        runs.flatMap((run) =>
          ['info', 'debug'].map((level) =>
            limit(async () => {
              const id = `${run.name}-${level}`.replace(/\W+/g, '-');
              const sink = await CountingServer.start(true);
              graphite.set(id, sink);
              const stateDir = join(work, `state-${id}`);
              const result = await runCommand(run.args, {
                env: { ...run.env, LOG_LEVEL: level, GRAPHITE_URL: run.graphiteUrl ?? sink.url, STATE_DIR: stateDir },
                timeoutMs: 120_000,
              });
              await sink.close();
              results.push({ run, level, result, state: readAll(filesUnder(stateDir)), wire: sink.received });
            }),
          ),
        ),
      );
    }, 600_000);

    afterAll(async () => {
      await Promise.all([api?.close(), github?.close(), aws?.close(), ga?.close(), ingest?.close()]);
    });

    it('no secret on stdout, stderr, in state files or on the wire to Graphite, at info and debug, in good and failing runs', ({
      task,
    }) => {
      const secrets = [...Object.values(SECRETS), ...keyLines, Buffer.from(`424242:${SECRETS.graphiteToken}`).toString('base64')];
      const leaks: string[] = [];
      for (const { run, level, result, state, wire } of results) {
        const places = { stdout: result.stdout, stderr: result.stderr, 'state files': state, Graphite: wire };
        for (const [place, text] of Object.entries(places)) {
          for (const secret of secrets)
            if (text.includes(secret))
              leaks.push(
                `${run.name} (${level}): ${place} holds ${secret.slice(0, 12)}…: ${text
                  .split('\n')
                  .find((l) => l.includes(secret))
                  ?.slice(0, 300)}`,
              );
        }
      }
      const failing = results.filter((r) => r.run.fails);
      const sent = results.reduce((n, r) => n + r.wire.split('\n').filter(Boolean).length, 0) + ingest.points.size;
      report(
        {
          section: 'Secrets',
          fault: 'fake credentials everywhere, every poller',
          injected:
            `${Object.keys(SECRETS).length} recognisable secrets (API token, key in the URL query, password in the URL, ` +
            `GitHub token, AWS key id, secret and session token, Google access token, ` +
            `GRAPHITE_TOKEN and GRAPHITE_AUTH of an https:// Graphite) and a service account's private key ` +
            `(${keyLines.length} lines); ${runs.length} runs × LOG_LEVEL info and debug, ${failing.length / 2} of them failing ` +
            `(401 echoing the request, refused credentials, unreachable API, failed sign-in)`,
          expected: '0 occurrences in stdout, stderr, state files and Graphite',
          observed:
            `${leaks.length} occurrences in ` +
            `${count(results.reduce((n, r) => n + r.result.stderr.length + r.result.stdout.length, 0))} bytes of output, ` +
            `${count(results.reduce((n, r) => n + r.state.length, 0))} bytes of state and ${count(sent)} lines sent to Graphite`,
        },
        task,
      );
      expect(leaks).toEqual([]);
      // The good runs really ran (and sent), the failing ones really failed.
      for (const { run, level, result } of results) {
        expect(result.code, `${run.name} (${level}): ${result.stderr}`).toBe(run.fails ? (run.exitCode ?? 1) : 0);
      }
      expect(sent).toBeGreaterThan(0);
    });
  });
}
