/**
 * The added latency of containers as workflow steps (docs/steps.md): a plain run against the
 * same run with `files` (1 KiB, 1 MiB) and with `result_path`, interleaved round by round so
 * load drifts hit every variant alike. Reports medians and ratios to the plain run.
 *
 *   node --import tsx test/bench/steps.ts [rounds=15]
 */
import { Harness } from '../support/harness.js';
import { stopPostgresServer } from '../support/postgres.js';

const rounds = Number(process.argv[2] ?? 15);
const KIB = 'k'.repeat(1024);
const MIB = Buffer.alloc(1024 * 1024, 7).toString('base64');

const VARIANTS: Record<string, Record<string, unknown>> = {
  plain: { command: ['sh', '-c', 'exit 0'] },
  files_1kib: { command: ['sh', '-c', 'exit 0'], files: { '/in/a.txt': KIB } },
  files_1mib: { command: ['sh', '-c', 'exit 0'], files: { '/in/a.bin': { content: MIB, encoding: 'base64' } } },
  result_path: { command: ['sh', '-c', 'echo \'{"ok": true}\' > /r.json'], result_path: '/r.json' },
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const h = await Harness.start({ logLevel: 'warn', policy: undefined });
try {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
  // One warm-up of each (image cache, prepared statements).
  for (const params of Object.values(VARIANTS)) await h.run(params);
  for (let i = 0; i < rounds; i++) {
    for (const [name, params] of Object.entries(VARIANTS)) {
      const t0 = performance.now();
      const r = await h.run(params);
      const ms = performance.now() - t0;
      if (r.status !== 'exited') throw new Error(`${name}: ${r.status} ${r.error}`);
      if (name === 'result_path' && (r.result as { ok?: boolean })?.ok !== true) throw new Error('result_path: no result');
      times[name]!.push(ms);
    }
  }
  const base = median(times['plain']!);
  const report = Object.fromEntries(
    Object.entries(times).map(([name, xs]) => [name, { median_ms: Math.round(median(xs)), ratio: Number((median(xs) / base).toFixed(2)), n: xs.length }]),
  );
  console.log(JSON.stringify({ rounds, loadavg: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))), report }, null, 2));
} finally {
  await h.stop();
  await stopPostgresServer();
}
