/**
 * `npm run soak:ci`: the short soak for CI, about two minutes: fixed seeds, every fault kind,
 * SOAK_SECONDS 30 each (SOAK_CI_SEEDS and SOAK_SECONDS override). Each seed runs in a process
 * of its own and writes soak-report-<seed>.json; exits 1 when any seed broke a promise.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const seeds = (process.env['SOAK_CI_SEEDS'] ?? '101,202').split(',').map((s) => s.trim()).filter(Boolean);
const seconds = process.env['SOAK_SECONDS'] ?? '30';
let failed = 0;
for (const seed of seeds) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'run.ts')], {
    stdio: 'inherit',
    env: { ...process.env, SOAK_SEED: seed, SOAK_SECONDS: seconds, SOAK_REPORT: process.env['SOAK_REPORT'] ?? `soak-report-${seed}.json` },
  });
  if (res.status !== 0) {
    failed++;
    process.stderr.write(`soak:ci: seed ${seed} ${res.status === 1 ? 'broke a promise' : `did not run (exit ${res.status ?? res.signal})`}\n`);
  }
}
process.exit(failed ? 1 : 0);
