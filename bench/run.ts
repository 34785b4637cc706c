// `npm run bench`: every benchmark in one run, printing its figures. Never part of `npm test`.
// BENCH_TICKS sets the number of real-clock ticks (default 300, at 100 ms each: 30 s).
import benchTicks from './ticks.ts';
import benchWriter from './writer.ts';

console.log('# graphite writer');
await benchWriter();
console.log('\n# schedule');
await benchTicks(Number(process.env.BENCH_TICKS ?? 300));
