#!/usr/bin/env -S node --import tsx
// Runs one poller job live: `npx tsx bin/poll.ts <poller> [--config FILE] [--once] [--dry-run]`.
import { pollCommand } from '../lib/poll-command.ts';

// Exit explicitly: an SDK's keep-alive socket must not hold a finished `--once` run open.
process.exit(await pollCommand(process.argv.slice(2)));
