// bin/new-poller.ts: refuses bad and taken names in one line; what it writes typechecks, passes its own test and the contract, and runs.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLLER_NAME, checkPollerName, scaffoldFiles } from '../../../lib/cli/new-poller.ts';
import { TestHttpServer } from '../../helpers/http-server.ts';
import { ROOT, runCommand } from '../../helpers/run-command.ts';

const run = promisify(execFile);

describe('poller names', () => {
  it.each(['a', 'status-page', 'queue_depth2', 'sqs', 'x'.repeat(64)])('accepts %j', (name) => {
    expect(() => checkPollerName(name)).not.toThrow();
  });

  it.each(['', 'Status', '1password', '-x', '_x', 'a.b', 'a b', 'a/b', '../x', 'naïve', 'x'.repeat(65), 'a\nb'])('refuses %j', (name) => {
    expect(POLLER_NAME.test(name)).toBe(false);
    expect(() => checkPollerName(name)).toThrow(/is not a valid poller name/);
  });

  it('writes three files named after the poller', () => {
    expect(scaffoldFiles('status-page').map((f) => f.path)).toEqual([
      'pollers/status-page.ts',
      'config/status-page.example.yaml',
      'test/pollers/status-page.test.ts',
    ]);
  });

  it("writes TypeScript that the project's Prettier leaves as it is (npm test checks every .ts file)", async () => {
    const options = await prettier.resolveConfig(join(ROOT, '.prettierrc.json'));
    for (const file of scaffoldFiles('status-page').filter((f) => f.path.endsWith('.ts'))) {
      expect(await prettier.check(file.text, { ...options, filepath: join(ROOT, file.path) }), file.path).toBe(true);
    }
  });
});

describe('npx tsx bin/new-poller.ts', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'gp-new-poller-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('refuses an invalid name with exit 78 and one line, writing nothing', async () => {
    const root = join(work, 'invalid');
    mkdirSync(root);
    const result = await runCommand(['bin/new-poller.ts', 'Status.Page', '--root', root]);
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      'new-poller: "Status.Page" is not a valid poller name: use lowercase letters, digits, "-" and "_", ' +
        'starting with a letter (at most 64)\n',
    );
    expect(existsSync(join(root, 'pollers'))).toBe(false);
  });

  it.each(['pollers/taken.ts', 'config/taken.example.yaml', 'test/pollers/taken.test.ts', 'pollers/taken/client.ts'])(
    'refuses a taken name (%s exists) with exit 78 and one line, overwriting nothing',
    async (existing) => {
      const root = mkdtempSync(join(work, 'taken-'));
      mkdirSync(join(root, existing, '..'), { recursive: true });
      writeFileSync(join(root, existing), 'mine\n');
      const result = await runCommand(['bin/new-poller.ts', 'taken', '--root', root]);
      expect(result.code).toBe(78);
      const shown = existing.startsWith('pollers/taken/') ? 'pollers/taken' : existing;
      expect(result.stderr).toBe(`new-poller: ${shown} already exists: the name "taken" is taken, pick another\n`);
      expect(readFileSync(join(root, existing), 'utf8')).toBe('mine\n');
      for (const file of scaffoldFiles('taken'))
        if (file.path !== existing) expect(existsSync(join(root, file.path)), file.path).toBe(false);
    },
  );

  it('refuses the names of the pollers of this checkout', async () => {
    const result = await runCommand(['bin/new-poller.ts', 'host']);
    expect(result.code).toBe(78);
    expect(result.stderr).toBe('new-poller: pollers/host.ts already exists: the name "host" is taken, pick another\n');
  });

  it('writes a poller that typechecks, passes its generated test and the contract test, and runs with --once --dry-run', async () => {
    // A temporary checkout: lib/, bin/, node_modules/ and test/helpers/ are this one's (symlinks);
    // pollers/, config/ and test/pollers/ hold only what the scaffold writes, plus a copy of the contract test.
    const root = join(work, 'checkout');
    mkdirSync(join(root, 'test', 'pollers'), { recursive: true });
    for (const shared of ['lib', 'bin', 'node_modules', 'test/helpers']) symlinkSync(join(ROOT, shared), join(root, shared));
    cpSync(join(ROOT, 'vitest.config.ts'), join(root, 'vitest.config.ts'));
    cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
    cpSync(join(ROOT, 'test/pollers/contract.test.ts'), join(root, 'test/pollers/contract.test.ts'));

    const made = await runCommand(['bin/new-poller.ts', 'queue-depth', '--root', root]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(
      /^created pollers\/queue-depth\.ts\ncreated config\/queue-depth\.example\.yaml\ncreated test\/pollers\/queue-depth\.test\.ts\n/,
    );

    // The project's compiler settings, on the generated files (and everything they import).
    writeFileSync(
      join(root, 'tsconfig.json'),
      JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), include: ['pollers', 'test/pollers', 'vitest.config.ts'] }),
    );
    const tsc = await run(join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', root], { cwd: root }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');

    // The generated test and the contract test (which now sees only the generated poller).
    const vitest = await run(
      join(root, 'node_modules/.bin/vitest'),
      ['run', 'test/pollers/queue-depth.test.ts', 'test/pollers/contract.test.ts', '--reporter=verbose'],
      {
        cwd: root,
        env: { ...process.env, CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
      },
    ).catch((error: { stdout: string; stderr: string }) => ({ stdout: error.stdout, stderr: error.stderr, failed: true }));
    expect('failed' in vitest ? `${vitest.stdout}\n${vitest.stderr}` : '').toBe('');
    expect(vitest.stdout).toMatch(/Test Files {2}2 passed \(2\)/);
    expect(vitest.stdout).toContain('pollers/queue-depth.ts > poll emits only through the sink');
    expect(vitest.stdout).not.toMatch(/skipped/);

    // As generated, it fetches JSON from its url and writes its numbers.
    const api = await TestHttpServer.start(() => {});
    try {
      api.respond(200, { depth: 42, oldest_seconds: 3.5, name: 'orders' });
      const config = join(root, 'queue.yaml');
      writeFileSync(config, `url: ${api.url}/queue\n`);
      const once = await runCommand(['bin/poll.ts', 'queue-depth', '--once', '--dry-run', '--config', config], {
        env: { POLLERS_PATH: join(root, 'pollers'), SELF_METRICS: '0', GRAPHITE_PREFIX: '' },
      });
      expect(once.code, once.stderr).toBe(0);
      expect(once.stdout).toMatch(/^queue-depth\.depth 42 \d+\nqueue-depth\.oldest_seconds 3\.5 \d+\n$/);

      // Its read is bounded: an endless answer fails the run in one line instead of filling memory.
      api.respondBytes(Infinity);
      writeFileSync(config, `url: ${api.url}/queue\nmaxResponseBytes: 64KiB\n`);
      const endless = await runCommand(['bin/poll.ts', 'queue-depth', '--once', '--dry-run', '--config', config], {
        env: { POLLERS_PATH: join(root, 'pollers'), SELF_METRICS: '0', GRAPHITE_PREFIX: '' },
      });
      expect(endless.code).toBe(1);
      expect(endless.stderr).toContain(`answer larger than maxResponseBytes (64 KiB) from 127.0.0.1:`);
      expect(endless.stdout).toBe('');
    } finally {
      await api.close();
    }
  }, 60_000);
});
