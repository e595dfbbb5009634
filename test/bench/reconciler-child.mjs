/**
 * A highway-docker reconciler in a process of its own, for the scale-envelope scenarios
 * (envelope.ts): its CPU and memory are read from /proc/<pid> by the bench, free of the
 * bench's own work (the tool callers, the churn loops, the samplers).
 *
 * Runs the built code (dist/, `npm run bench` builds it first), not tsx: no transpiler in
 * the measured memory. Configured by environment:
 *   BENCH_CHILD_DATABASE_URL   the database (migrated) the bench's tools write intents to
 *   BENCH_CHILD_RECONCILER_ID  the reconciler's id (the bench sweeps its label at the end)
 *   BENCH_CHILD_CONCURRENCY    reconciles in flight per kind (default: the reconciler's own default)
 *   BENCH_RESYNC_MS            the periodic resync interval (default: the reconciler's own, 30 s)
 *   BENCH_LOG_LEVEL            log level, to stderr (default error; cancelled containers' lines are dropped)
 * Prints one line `ready` on stdout once started; stops cleanly on SIGTERM (containers keep running).
 */
import Docker from 'dockerode';
import { pino } from 'pino';
import { createPool } from '../../dist/db/pool.js';
import { createDockerClient } from '../../dist/docker/client.js';
import { Reconciler } from '../../dist/reconciler.js';

const url = process.env.BENCH_CHILD_DATABASE_URL;
const reconcilerId = process.env.BENCH_CHILD_RECONCILER_ID;
if (!url || !reconcilerId) {
  console.error('reconciler-child: BENCH_CHILD_DATABASE_URL and BENCH_CHILD_RECONCILER_ID are required');
  process.exit(2);
}
const concurrency = process.env.BENCH_CHILD_CONCURRENCY ? Number(process.env.BENCH_CHILD_CONCURRENCY) : undefined;
// Cancelled containers are logged at error level; the envelope cancels them on purpose (many).
const logger = pino(
  {
    level: process.env.BENCH_LOG_LEVEL ?? 'error',
    hooks: {
      logMethod(args, method) {
        const f = args[0];
        if (f && typeof f === 'object' && f.event === 'container.exited' && f.status === 'cancelled') return;
        method.apply(this, args);
      },
    },
  },
  pino.destination({ fd: 2, sync: true }),
);
const pool = createPool(url, { max: 10, applicationName: 'highway-bench-reconciler' });
const reconciler = await Reconciler.create({
  pool,
  databaseUrl: url,
  docker: createDockerClient({ logger, docker: new Docker() }),
  logger,
  reconcilerId,
  ...(concurrency !== undefined ? { concurrency } : {}),
  ...(process.env.BENCH_RESYNC_MS ? { resyncIntervalMs: Number(process.env.BENCH_RESYNC_MS) } : {}),
});
await reconciler.start();
process.stdout.write('ready\n');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await reconciler.stop().catch((err) => console.error(`reconciler-child: stop failed: ${err?.message ?? err}`));
  await pool.end().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The bench going away (its pipe closing) ends this process too.
process.stdin.on('end', () => void stop());
process.stdin.resume();
