#!/usr/bin/env -S node --import tsx
// Runs one poller job live: `node --import tsx bin/poll.ts <poller> [--config FILE] [--once] [--dry-run]`.
import { startCommand } from '../lib/cli/command-line.ts';
import { pollCommand } from '../lib/cli/poll-command.ts';

// Exit explicitly: an SDK's keep-alive socket must not hold a finished `--once` run open.
process.exit(await startCommand(pollCommand, process.argv.slice(2)));
