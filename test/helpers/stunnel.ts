// A real TLS terminator (Debian's stunnel4) in front of a local TCP port, on an OS-chosen port, for tls:// tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { TestCertificates } from './test-certificates.ts';
import { tempDir } from './temp-dir.ts';

export const STUNNEL = '/usr/bin/stunnel4';
export const stunnelUnavailable = existsSync(STUNNEL) ? undefined : 'stunnel4 is not installed (apt-get install -y stunnel4)';

/** `describe` for suites that need stunnel4: skipped with the reason when missing, failing under CI=true. */
export function describeStunnel(name: string, body: () => void): void {
  if (!stunnelUnavailable) describe(name, body);
  else if (process.env.CI === 'true')
    describe(name, () =>
      it('needs stunnel4 under CI', () => {
        throw new Error(stunnelUnavailable);
      }),
    );
  else describe.skipIf(true)(`${name} [skipped: ${stunnelUnavailable}]`, body);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class Stunnel {
  private child: ChildProcess | undefined;
  output = '';
  readonly dir: string;
  readonly port: number;
  private readonly targetPort: number;
  private readonly certificates: TestCertificates;

  private constructor(dir: string, port: number, targetPort: number, certificates: TestCertificates) {
    this.dir = dir;
    this.port = port;
    this.targetPort = targetPort;
    this.certificates = certificates;
  }

  /** TLS on a free port, forwarding to 127.0.0.1:`targetPort`; a port taken meanwhile is retried with another. */
  static async start(targetPort: number, certificates: TestCertificates): Promise<Stunnel> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const tunnel = new Stunnel(tempDir('stunnel'), await freePort(), targetPort, certificates);
      try {
        await tunnel.run();
        return tunnel;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  get url(): string {
    return `tls://127.0.0.1:${this.port}`;
  }

  /** Starts stunnel (again) on its port; resolves once it accepts connections. */
  async run(): Promise<void> {
    const config = join(this.dir, 'stunnel.conf');
    writeFileSync(
      config,
      [
        'foreground = yes',
        'pid =',
        'debug = 4',
        '[carbon]',
        `accept = 127.0.0.1:${this.port}`,
        `connect = 127.0.0.1:${this.targetPort}`,
        `cert = ${this.certificates.certFile}`,
        `key = ${this.certificates.keyFile}`,
        '',
      ].join('\n'),
    );
    const child = spawn(STUNNEL, [config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`stunnel exited: ${this.output.slice(-500)}`);
      if (await canConnect(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.stop();
    throw new Error(`stunnel did not listen on ${this.port} within 15 s: ${this.output.slice(-500)}`);
  }

  /** Stops stunnel, cutting the connections it holds (a restart of the terminator). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
