/**
 * The observability HTTP server on a real PostgreSQL: /metrics scraped and parsed strictly
 * (names, types, labels; intents counted on scrape), /healthz, /readyz flipping with its checks,
 * 404/405, and an idempotent close.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Metrics } from '../../src/observability/metrics.js';
import { startHttpServer, type HttpServer } from '../../src/observability/http.js';
import type { Queryable } from '../../src/db/pool.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { parsePrometheusText, sampleValue } from '../support/prom-text.js';
import { httpGet } from '../support/http.js';

describe('observability: startHttpServer with Metrics (real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  const servers: HttpServer[] = [];
  const serve = async (opts: Omit<Parameters<typeof startHttpServer>[0], 'addr'>) => {
    const s = await startHttpServer({ addr: '127.0.0.1:0', ...opts });
    servers.push(s);
    return s;
  };

  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('/metrics: the text exposition, strictly parseable, with our metrics, their types and the intents counted on scrape', async () => {
    const intent = (status: string, host: string | null, removed = false) =>
      db.pool.query(
        `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, reconciler_id, removed_at)
         VALUES ($1, $2, $3, 'tenant-secret', 'busybox', '{}', $4, $5, CASE WHEN $6 THEN now() END)`,
        [randomUUID(), randomUUID(), randomUUID(), status, host, removed],
      );
    await intent('running', 'h1');
    await intent('running', 'h1');
    await intent('created', 'h2');
    await intent('pending', null);
    await intent('exited', 'h1', true); // removed: no longer counted

    const metrics = new Metrics({ pool: db.pool });
    metrics.transition('exited', null);
    metrics.reconcileDuration.observe({ kind: 'run' }, 0.042);
    const s = await serve({ metrics });
    expect(s.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await httpGet(`${s.url}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const f = parsePrometheusText(res.body);
    expect(f.get('highway_docker_intents')!.type).to.equal('gauge');
    expect(f.get('highway_docker_intents')!.samples.map((x) => [x.labels, x.value])).to.have.deep.members([
      [{ status: 'running', host: 'h1' }, 2],
      [{ status: 'created', host: 'h2' }, 1],
      [{ status: 'pending', host: '' }, 1],
    ]);
    expect(f.get('highway_docker_transitions_total')!.type).to.equal('counter');
    expect(sampleValue(f, 'highway_docker_transitions_total', { status: 'exited', stop_reason: '' })).to.equal(1);
    expect(f.get('highway_docker_reconcile_duration_seconds')!.type).to.equal('histogram');
    expect(sampleValue(f, 'highway_docker_reconcile_duration_seconds_bucket', { kind: 'run', le: '0.05' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_reconcile_duration_seconds_bucket', { kind: 'run', le: '0.025' })).to.equal(0);
    expect(sampleValue(f, 'highway_docker_breaker_state')).to.equal(0);
    expect(f.has('process_resident_memory_bytes')).to.equal(true);
    expect(res.body).to.not.include('tenant-secret');

    // Counted on every scrape: a change shows at once, and a status that is gone disappears.
    await db.pool.query(`UPDATE highway.docker_containers SET status = 'stopping' WHERE status = 'created'`);
    const again = parsePrometheusText((await httpGet(`${s.url}/metrics`)).body);
    expect(sampleValue(again, 'highway_docker_intents', { status: 'stopping', host: 'h2' })).to.equal(1);
    expect(sampleValue(again, 'highway_docker_intents', { status: 'created', host: 'h2' })).to.equal(undefined);

    // Per host when asked.
    const own = new Metrics({ pool: db.pool, intentsHost: 'h1', defaultMetrics: false });
    const mine = parsePrometheusText((await own.exposition()).body);
    expect(mine.get('highway_docker_intents')!.samples.map((x) => x.labels['host'])).to.deep.equal(['h1']);
  });

  it('/metrics still answers when the intents query fails (the gauge is empty, the failure counted)', async () => {
    const broken: Queryable = { query: (() => Promise.reject(new Error('database down'))) as unknown as Queryable['query'] };
    const hanging: Queryable = { query: (() => new Promise(() => {})) as unknown as Queryable['query'] };
    for (const pool of [broken, hanging]) {
      const metrics = new Metrics({ pool, defaultMetrics: false, intentsQueryTimeoutMs: 200 });
      const s = await serve({ metrics });
      const res = await httpGet(`${s.url}/metrics`);
      expect(res.status).to.equal(200);
      const f = parsePrometheusText(res.body);
      expect(f.get('highway_docker_intents')!.samples).to.deep.equal([]);
      // prom-client reads every metric at once, so a collector's failure shows from the next scrape.
      const next = parsePrometheusText((await httpGet(`${s.url}/metrics`)).body);
      expect(sampleValue(next, 'highway_docker_scrape_errors_total', { collector: 'highway_docker_intents' })).to.equal(1);
    }
  });

  it('/healthz is 200; /readyz is 200 when every check passes, else 503 naming each check, and flips back', async () => {
    let dbUp = true;
    const s = await serve({
      metrics: new Metrics({ defaultMetrics: false }),
      readiness: {
        database: async () => (await db.pool.query('SELECT 1')).rowCount === 1 && dbUp,
        docker: () => true,
      },
    });
    const health = await httpGet(`${s.url}/healthz`);
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.deep.equal({ status: 'ok' });

    let ready = await httpGet(`${s.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.body)).to.deep.equal({ ready: true, checks: { database: { ok: true }, docker: { ok: true } } });

    dbUp = false;
    ready = await httpGet(`${s.url}/readyz`);
    expect(ready.status).to.equal(503);
    expect(JSON.parse(ready.body)).to.deep.equal({ ready: false, checks: { database: { ok: false, error: 'check failed' }, docker: { ok: true } } });
    expect((await httpGet(`${s.url}/healthz`)).status).to.equal(200); // alive, just not ready

    dbUp = true;
    expect((await httpGet(`${s.url}/readyz`)).status).to.equal(200);
  });

  it('/readyz: a check that throws or hangs fails with its state (the error text is for the log only)', async () => {
    const s = await serve({
      metrics: new Metrics({ defaultMetrics: false }),
      checkTimeoutMs: 200,
      readiness: {
        throws: () => {
          throw new Error('docker: connect ENOENT /var/run/docker.sock');
        },
        rejects: () => Promise.reject(new Error('no leader connection')),
        hangs: () => new Promise<boolean>(() => {}),
      },
    });
    const res = await httpGet(`${s.url}/readyz`);
    expect(res.status).to.equal(503);
    expect(JSON.parse(res.body)).to.deep.equal({
      ready: false,
      checks: {
        throws: { ok: false, error: 'check failed with an error (see the log: readyz.check_failed)' },
        rejects: { ok: false, error: 'check failed with an error (see the log: readyz.check_failed)' },
        hangs: { ok: false, error: 'no answer within 200 ms' },
      },
    });
  });

  it('404 for other paths, 405 for other methods, HEAD without a body; close() is idempotent and stops listening', async () => {
    const s = await serve({ metrics: new Metrics({ defaultMetrics: false }) });
    expect((await httpGet(`${s.url}/nope`)).status).to.equal(404);
    expect((await httpGet(`${s.url}/metrics/extra`)).status).to.equal(404);
    expect((await httpGet(`${s.url}/metrics?x=1`)).status).to.equal(200);
    expect((await httpGet(`${s.url}/metrics`, 'POST')).status).to.equal(405);
    const head = await httpGet(`${s.url}/healthz`, 'HEAD');
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await httpGet(`${s.url}/healthz`).then(
      () => expect.fail('still listening after close'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
    );
  });

  it('a busy address is a clear error naming HIGHWAY_HTTP_ADDR', async () => {
    const s = await serve({ metrics: new Metrics({ defaultMetrics: false }) });
    await startHttpServer({ addr: `127.0.0.1:${s.address.port}`, metrics: new Metrics({ defaultMetrics: false }) }).then(
      () => expect.fail('two servers on one port'),
      (err: Error) => expect(err.message).to.match(/cannot listen on 127\.0\.0\.1:\d+ \(HIGHWAY_HTTP_ADDR\): .*EADDRINUSE/),
    );
  });
});
