#!/usr/bin/env -S node --import tsx --optimize-for-size --semi-space-growth-factor=1
// Fetches a poller's history over a range: `npm run backfill -- <poller> --from -7d [--to now]`.
//
// Launch it with the V8 flags of the line above (npm run backfill, crontab.example and the shebang do):
// millions of short-lived lines pass through a backfill, and by default V8 lets its young generation grow to
// 48 MB and its old one to several times what is live before collecting: a 10-million-point backfill into a slow
// Graphite peaked at 260-320 MB RSS, with about 30 MB live. Collecting early keeps it far lower; the CPU-bound
// ceiling drops from about 2 to about 1 million points/s, still several times what one carbon-cache ingests
// (bench/backfill-pipeline.ts). They belong on the launch line: Node documents setting them at run time as unreliable.
import { backfillCommand } from '../lib/cli/backfill-command.ts';
import { startCommand } from '../lib/cli/command-line.ts';

// The exit code, not an exit: the command closed its writer and its poller, so nothing is left to hold the process open.
process.exitCode = await startCommand(backfillCommand, process.argv.slice(2));
