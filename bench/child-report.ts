// Preloaded (--import) into a measured child process: at exit, on stderr, its peak resident memory and the
// npm packages it loaded (as CommonJS: how the AWS SDK and googleapis load from our ES modules).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

process.on('exit', () => {
  // VmHWM is the kernel's high-water mark of this process's resident set; maxRSS is the same where /proc is missing.
  let kilobytes = process.resourceUsage().maxRSS;
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) kilobytes = Number(match[1]);
  } catch {
    // Not Linux: maxRSS it is.
  }
  const packages = new Set<string>();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
    if (match) packages.add(match[1]!.replace(/\\/g, '/'));
  }
  process.stderr.write(`peak-rss-kb ${kilobytes}\npackages-loaded ${JSON.stringify([...packages].sort())}\n`);
});
