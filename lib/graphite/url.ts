// GRAPHITE_URL parsing: `tcp://host:port`, `tls://host:port`, `udp://host:port`, `http(s)://…`, or unset / `-` for stdout.
import { isIP } from 'node:net';

export type GraphiteTarget =
  | { kind: 'stdout' }
  | { kind: 'tcp' | 'tls' | 'udp'; host: string; port: number }
  /** An HTTP ingestion endpoint taking JSON batches (Grafana Cloud's /graphite/metrics). */
  | { kind: 'http'; url: string; host: string };

/**
 * `text` with what may be a secret replaced by `***`: the password of `user:password@` and a whole query
 * string (`?password=…`). A GRAPHITE_URL takes neither, so an error quoting one must not print them.
 */
export function maskUrlSecrets(text: string): string {
  return text.replace(/(\/\/[^\s/@"?#:]*:)[^\s/"]*@/g, '$1***@').replace(/([?#])[^\s"]+/g, '$1***');
}

/**
 * Where the writer sends lines. Unset, empty or `-` means stdout. Otherwise `tcp://host:port`, `tls://host:port`
 * or `udp://host:port` (an IPv6 host in brackets: `tcp://[::1]:2003`), or an `http(s)://` ingestion URL.
 * Throws one-line errors.
 */
export function parseGraphiteUrl(url: string | undefined): GraphiteTarget {
  const text = url?.trim();
  if (text === undefined || text === '' || text === '-') return { kind: 'stdout' };
  const shown = JSON.stringify(maskUrlSecrets(text));
  if (/^https?:\/\//i.test(text)) return parseHttpUrl(text, shown);
  const match = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]*\]|[A-Za-z0-9._-]*)(?::(\d*))?\/?$/i.exec(text);
  if (!match) {
    throw new Error(`expected tcp://host:port, tls://host:port, udp://host:port, an https:// URL or '-' for stdout, got ${shown}`);
  }
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'tcp' && scheme !== 'tls' && scheme !== 'udp') {
    throw new Error(`unsupported scheme "${scheme}://" in ${shown}: expected tcp://, tls://, udp:// or https://`);
  }
  let host = match[2]!;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) throw new Error(`invalid IPv6 address [${host}] in ${shown}`);
  }
  if (host === '') throw new Error(`missing host in ${shown}: expected ${scheme}://host:port`);
  if (match[3] === undefined || match[3] === '') {
    throw new Error(`missing port in ${shown}: expected ${scheme}://${match[2]}:port (carbon's line receiver is usually 2003)`);
  }
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`port ${match[3]} out of range 1-65535 in ${shown}`);
  }
  return { kind: scheme, host, port };
}

/**
 * An HTTP(S) ingestion endpoint. Credentials go in GRAPHITE_USER/GRAPHITE_TOKEN or GRAPHITE_AUTH, never in the URL:
 * the URL is logged at start, and a token in it would be too.
 */
function parseHttpUrl(text: string, shown: string): GraphiteTarget {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new Error(`invalid URL ${shown}: expected https://host/path such as https://<stack>.grafana.net/graphite/metrics`);
  }
  if (parsed.username || parsed.password) {
    throw new Error(`expected no credentials in the URL (it is logged): put them in GRAPHITE_USER and GRAPHITE_TOKEN, got ${shown}`);
  }
  if (parsed.search || parsed.hash) {
    throw new Error(`expected the ingestion URL without a query string (a token goes in GRAPHITE_TOKEN), got ${shown}`);
  }
  if (parsed.hostname === '') throw new Error(`missing host in ${shown}`);
  return { kind: 'http', url: parsed.href, host: parsed.hostname.replace(/^\[|\]$/g, '') };
}
