// Node's process warnings (deprecations, an SDK's notice about the Node version) as one log line each.
import type { Logger } from '../poller-kit/logger.ts';

let installed = false;

export function logProcessWarnings(log: Logger): void {
  if (installed) return;
  installed = true;
  // Node's default handler prints multi-line text to stderr; logs here are one line per event.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn(`${warning.name}: ${warning.message.replace(/\s*\n\s*/g, ' ')}`));
}
