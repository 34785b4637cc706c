// This machine's load averages, memory and uptime from node:os: needs nothing, so a fresh checkout shows real data.
import { cpus, freemem, hostname, loadavg, totalmem, uptime } from 'node:os';
import { z } from 'zod';
import { definePoller } from '../lib/poller-kit/index.ts';

export default definePoller({
  name: 'host',
  summary: "This machine's load averages, memory and uptime (no configuration needed)",
  options: z.strictObject({
    prefix: z
      .string()
      .default('host.{hostname}')
      .describe('Path under which the values go; {hostname} is replaced by the short host name (its dots would otherwise add path nodes).'),
  }),
  schedule: { interval: 60 },

  async poll({ options, window, sink }) {
    const name = hostname().split('.')[0] ?? 'localhost';
    // The host name is data, not a path: it is one node whatever it contains.
    const base = options.prefix.split('.').map((node) => node.replace('{hostname}', name));
    const at = window.end;
    const [load1, load5, load15] = loadavg() as [number, number, number];
    const total = totalmem();
    const free = freemem();
    sink.emit([...base, 'load', '1m'], load1, at);
    sink.emit([...base, 'load', '5m'], load5, at);
    sink.emit([...base, 'load', '15m'], load15, at);
    sink.emit([...base, 'cpus'], cpus().length, at);
    sink.emit([...base, 'memory', 'total_bytes'], total, at);
    sink.emit([...base, 'memory', 'available_bytes'], free, at);
    sink.emit([...base, 'memory', 'used_bytes'], total - free, at);
    sink.emit([...base, 'memory', 'used_percent'], total > 0 ? ((total - free) / total) * 100 : NaN, at);
    sink.emit([...base, 'uptime_seconds'], Math.floor(uptime()), at);
  },
});
