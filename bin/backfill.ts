#!/usr/bin/env -S node --import tsx
// Fetches a poller's history over a range: `node --import tsx bin/backfill.ts <poller> --from -7d [--to now]`.
import { setFlagsFromString } from 'node:v8';

// Millions of short-lived lines pass through a backfill. By default V8 lets its young generation grow to 48 MB
// and its old one to several times what is live before collecting: a 10-million-point backfill into a slow
// Graphite peaked at 260-320 MB RSS, with about 30 MB live. Collecting early keeps it near 135 MB; the CPU-bound
// ceiling drops from about 2 to about 1 million points/s, still several times what one carbon-cache ingests
// (bench/backfill-pipeline.ts). Set before the command's modules load.
setFlagsFromString('--optimize-for-size');
setFlagsFromString('--semi-space-growth-factor=1');
const { backfillCommand } = await import('../lib/cli/backfill-command.ts');
const { startCommand } = await import('../lib/cli/command-line.ts');

// Exit explicitly: an SDK's keep-alive socket must not hold a finished backfill open.
process.exit(await startCommand(backfillCommand, process.argv.slice(2)));
