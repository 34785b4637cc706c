#!/usr/bin/env -S node --import tsx
// Fetches a poller's history over a range: `npx tsx bin/backfill.ts <poller> --from -7d [--to now]`.
import { backfillCommand } from '../lib/backfill-command.ts';

// Exit explicitly: an SDK's keep-alive socket must not hold a finished backfill open.
process.exit(await backfillCommand(process.argv.slice(2)));
