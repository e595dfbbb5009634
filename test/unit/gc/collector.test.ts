/** The GC survives its database being down: a failed sweep is logged, never an unhandled rejection. */
import { expect } from 'chai';
import sinon from 'sinon';
import { pino } from 'pino';
import { DockerGarbageCollector } from '../../../src/gc/collector.js';
import { runKinds } from '../../../src/runtime/periodic.js';
import type { Pool } from '../../../src/db/pool.js';
import type { ContainerClient } from '../../../src/docker/client.js';

describe('gc/DockerGarbageCollector with PostgreSQL down', () => {
  it('a sweep whose connect fails resolves (no rejection), and the periodic sweep on the controller runtime keeps going', async () => {
    const connect = sinon.stub().rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const pool = { connect, query: sinon.stub().rejects(new Error('down')) } as unknown as Pool;
    const docker = { list: sinon.stub().resolves([]) } as unknown as ContainerClient;
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const gc = new DockerGarbageCollector({ pool, docker, logger, reconcilerId: 'r1', intervalMs: 20 });
      const report = await gc.sweep();
      expect(report.skipped).to.equal(false);
      const running = runKinds([gc.kind()], logger); // as `highway-docker gc` runs it
      await new Promise((r) => setTimeout(r, 120));
      await running.stop();
      expect(connect.callCount).to.be.greaterThan(2); // the loop went on after failures
      expect(lines.filter((l) => l['event'] === 'gc.sweep_error').length).to.be.greaterThan(2);
      await new Promise((r) => setImmediate(r));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
