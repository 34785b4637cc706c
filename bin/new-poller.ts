#!/usr/bin/env -S node --import tsx
// Scaffolds a new poller: `npx tsx bin/new-poller.ts <name>` writes pollers/<name>.ts, its example config and its test.
import { newPollerCommand } from '../lib/cli/new-poller.ts';

process.exitCode = await newPollerCommand(process.argv.slice(2));
