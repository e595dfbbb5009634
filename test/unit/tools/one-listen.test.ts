/**
 * One tools instance opens exactly one LISTEN connection, whichever tools wait (run/wait on
 * intents, inspect on operations, pull on pull rows). PgListener and the pool are sinon fakes.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { randomUUID } from 'node:crypto';
import { PgListener } from '../../../src/db/listener.js';
import type { Pool } from '../../../src/db/pool.js';
import { registerDockerTools } from '../../../src/tools/docker-tools.js';
import { ToolRegistry } from '../../../src/tools/registry.js';

describe('tools/registerDockerTools LISTEN connections', () => {
  afterEach(() => sinon.restore());

  it('every kind of wait shares one LISTEN connection, started once and closed by close()', async () => {
    const started = new Set<PgListener>();
    const start = sinon.stub(PgListener.prototype, 'start').callsFake(async function (this: PgListener) {
      started.add(this);
    });
    const stop = sinon.stub(PgListener.prototype, 'stop').resolves();
    const intent = {
      id: randomUUID(), tenant_id: 'acme', status: 'exited', exit_code: 0, container_id: 'c0ffee', short_id: 'c0ffee',
      reconciler_id: 'h1', removed_at: null, image: 'busybox', stdout: '', stderr: '', labels: {}, spec: {}, warnings: [],
    };
    const query = sinon.stub().callsFake(async (textOrConfig: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
      // (text, values), or a prepared statement's config
      const sql = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text;
      const params = values ?? (typeof textOrConfig === 'string' ? [] : (textOrConfig.values ?? []));
      if (/FROM highway\.hosts/.test(sql)) return { rows: [{ id: 'h1' }] };
      if (/SELECT \* FROM highway\.docker_operations WHERE id/.test(sql)) return { rows: [{ id: params[0], kind: 'inspect', status: 'done', result: { Id: 'c0ffee' } }] };
      if (/FROM highway\.docker_pulls WHERE id = ANY/.test(sql)) {
        return { rows: (params[0] as string[]).map((id) => ({ id, reconciler_id: 'h1', status: 'done', digest: 'sha256:1', duration_ms: 1, error: null })) };
      }
      if (/SELECT \* FROM highway\.docker_containers/.test(sql)) return { rows: [intent] };
      return { rows: [] };
    });
    const pool = { query } as unknown as Pool;
    const registry = new ToolRegistry();
    const tools = registerDockerTools(registry, { databaseUrl: 'postgres://nowhere', pool });
    const ctx = { tenant_id: 'acme', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: 'w1' };

    const waited = await registry.call<{ status: string }>('tools.docker.wait', { target: intent.id }, ctx);
    expect(waited.status).to.equal('exited');
    const inspected = await registry.call<{ container: unknown }>('tools.docker.inspect', { target: intent.id }, ctx);
    expect(inspected.container).to.deep.equal({ Id: 'c0ffee' });
    const pulled = await registry.call<{ results: Array<{ status: string }> }>('tools.docker.pull', { image: 'busybox:latest', host: 'h1' }, ctx);
    expect(pulled.results.map((r) => r.status)).to.deep.equal(['done']);

    expect(started.size).to.equal(1);
    expect(start.callCount).to.equal(1);
    await tools.close();
    expect(stop.callCount).to.equal(1);
  });
});
