/**
 * `npm run soak:ci`: the short soak for CI: fixed seeds (1 and 323), every fault kind, SOAK_SECONDS 30 each
 * (SOAK_CI_SEEDS and SOAK_SECONDS override). Each seed runs in a process of its own and writes
 * soak-report-<seed>.json; exits 1 when any seed broke a promise. SIGINT/SIGTERM reach the
 * running seed (by its PID), which cleans up after itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// Seeds 1 and 323: their first four faults are eight different kinds (1: reconciler_pause, pg_restart,
// pg_terminate_backend, host_timeout_skew; 323: proxy_cut, reconciler_kill, daemon_kill_restart,
// worker_kill), so the short mode meets most kinds in its 2 x 30 s.
const seeds = (process.env['SOAK_CI_SEEDS'] || '1,323').split(',').map((s) => s.trim()).filter(Boolean);
const seconds = process.env['SOAK_SECONDS'] || '30';
let current: ChildProcess | null = null;
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = true;
    if (current?.pid) process.kill(current.pid, sig);
  });
}

let failed = 0;
const timings: string[] = [];
const t0 = Date.now();
for (const seed of seeds) {
  const started = Date.now();
  if (interrupted) break;
  current = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'run.ts')], {
    stdio: 'inherit',
    env: { ...process.env, SOAK_SEED: seed, SOAK_SECONDS: seconds, SOAK_REPORT: process.env['SOAK_REPORT'] || `soak-report-${seed}.json` },
  });
  const code = await new Promise<number | null>((resolve) => current!.once('exit', (c) => resolve(c)));
  current = null;
  timings.push(`seed ${seed}: ${code === 0 ? 'pass' : `exit ${code}`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (code !== 0) {
    failed++;
    process.stderr.write(`soak:ci: seed ${seed} ${code === 1 ? 'broke a promise' : `did not run (exit ${code})`}\n`);
  }
}
process.stderr.write(`soak:ci: ${timings.join('; ')}; ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n`);
process.exit(failed || interrupted ? 1 : 0);
