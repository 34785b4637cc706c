// The ports fetch refuses to connect to ("bad port"), so a URL that can never work is refused when the config loads.

/**
 * The Fetch standard's blocked ports (https://fetch.spec.whatwg.org/#port-blocking), which Node's fetch
 * (undici) refuses with "fetch failed" caused by "bad port". Node 20.20 refuses every one of these.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** The port of an http(s) URL that fetch refuses, or undefined when fetch may connect (or it is no URL). */
export function fetchBlockedPort(url: string): number | undefined {
  let port: string;
  try {
    port = new URL(url).port;
  } catch {
    return undefined;
  }
  // An empty port is the scheme's default (80, 443): never blocked.
  return port !== '' && FETCH_BLOCKED_PORTS.has(Number(port)) ? Number(port) : undefined;
}

/** The message for a zod refinement: one line, what fetch does and what to do instead. */
export function blockedPortMessage(url: string): string {
  const port = fetchBlockedPort(url);
  return `port ${port} is one fetch refuses to connect to ("bad port", the Fetch standard's port blocking): serve it on another port`;
}
