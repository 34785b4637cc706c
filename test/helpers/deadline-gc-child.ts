// Run with `node --expose-gc --import tsx`: waits on a server that never answers while forcing garbage
// collection, and prints as JSON how many of 20 timeouts fired. The argument picks what sets the timeout.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deadline } from '../../lib/poller-kit/deadline.ts';
import { createGitHubPoller, githubOptions } from '../../pollers/github.ts';
import httpJson from '../../pollers/http-json.ts';
import { testContext } from './capture-sink.ts';

const mode = process.argv[2] as 'deadline' | 'http-json' | 'github' | 'any-timeout';
const ITERATIONS = 20;
const TIMEOUT_MS = 200;
/** How long an iteration waits for its timeout before counting it as lost: 25 times the timeout, for a busy host. */
const GIVE_UP_MS = 5_000;

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with node --expose-gc');

const server = createServer(() => {}); // accepts, never answers
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** One wait that should end at its timeout: resolves when it does, with the error's name. */
function attempt(parent: AbortSignal): Promise<string> {
  const window = { start: 0, end: 60 };
  const settle = (promise: Promise<unknown>) =>
    promise.then(
      () => 'answered',
      (error: unknown) => (error as Error).name,
    );
  switch (mode) {
    case 'deadline': {
      const { signal } = deadline(parent, TIMEOUT_MS);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve((signal.reason as Error).name), { once: true }));
    }
    case 'any-timeout': {
      // The pattern deadline() replaces, through fetch as the pollers used it.
      return settle(fetch(root, { signal: AbortSignal.any([parent, AbortSignal.timeout(TIMEOUT_MS)]) }));
    }
    case 'http-json': {
      const options = httpJson.options.parse({ url: `${root}/status.json`, timeout: TIMEOUT_MS / 1000 });
      return settle(httpJson.poll(testContext({ options, window, signal: parent })));
    }
    case 'github': {
      const poller = createGitHubPoller();
      const options = githubOptions.parse({ repositories: ['nodejs/node'], apiRoot: root, timeout: TIMEOUT_MS / 1000 });
      return settle(poller.poll(testContext({ options, window, signal: parent })));
    }
    default:
      throw new Error(`unknown mode ${String(mode)}`);
  }
}

let fired = 0;
let lost = 0;
const names = new Set<string>();
const gcLoop = setInterval(() => collect(), 5);
for (let i = 0; i < ITERATIONS; i++) {
  // The run's signal, as the runner hands it in: alive for the whole wait, never aborted here unless lost.
  const parent = new AbortController();
  let giveUp: NodeJS.Timeout | undefined;
  const lostAfter = new Promise<string>((resolve) => (giveUp = setTimeout(() => resolve('lost'), GIVE_UP_MS)));
  const result = await Promise.race([attempt(parent.signal), lostAfter]);
  clearTimeout(giveUp);
  if (result === 'lost') {
    lost++;
    parent.abort(); // end the waiting request so the next iteration starts clean
  } else {
    fired++;
    names.add(result);
  }
}
clearInterval(gcLoop);
server.closeAllConnections();
server.close();
process.stdout.write(JSON.stringify({ mode, node: process.version, fired, lost, names: [...names] }) + '\n');
