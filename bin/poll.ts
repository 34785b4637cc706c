#!/usr/bin/env -S node --import tsx
// Runs one poller job live: `node --import tsx bin/poll.ts <poller> [--config FILE] [--once] [--dry-run]`.
import { startCommand } from '../lib/cli/command-line.ts';
import { pollCommand } from '../lib/cli/poll-command.ts';

// The exit code, not an exit: the command closed its writer and its poller, so nothing is left to hold the process open.
process.exitCode = await startCommand(pollCommand, process.argv.slice(2));
