// GRAPHITE_URL parsing: `tcp://host:port`, `udp://host:port`, or unset / `-` for stdout.
import { isIP } from 'node:net';

export type GraphiteTarget = { kind: 'stdout' } | { kind: 'tcp' | 'udp'; host: string; port: number };

/**
 * `text` with what may be a secret replaced by `***`: the password of `user:password@` and a whole query
 * string (`?password=…`). A GRAPHITE_URL takes neither, so an error quoting one must not print them.
 */
export function maskUrlSecrets(text: string): string {
  return text.replace(/(\/\/[^\s/@"?#:]*:)[^\s/"]*@/g, '$1***@').replace(/([?#])[^\s"]+/g, '$1***');
}

/**
 * Where the writer sends lines. Unset, empty or `-` means stdout. Otherwise `tcp://host:port` or
 * `udp://host:port`; an IPv6 host is written in brackets (`tcp://[::1]:2003`). Throws one-line errors.
 */
export function parseGraphiteUrl(url: string | undefined): GraphiteTarget {
  const text = url?.trim();
  if (text === undefined || text === '' || text === '-') return { kind: 'stdout' };
  const shown = JSON.stringify(maskUrlSecrets(text));
  const match = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]*\]|[A-Za-z0-9._-]*)(?::(\d*))?\/?$/i.exec(text);
  if (!match) {
    throw new Error(`expected tcp://host:port, udp://host:port or '-' for stdout, got ${shown}`);
  }
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'tcp' && scheme !== 'udp') {
    throw new Error(`unsupported scheme "${scheme}://" in ${shown}: expected tcp:// or udp://`);
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
