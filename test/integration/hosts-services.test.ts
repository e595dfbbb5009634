/**
 * startHostServices, as `up` wires it, on real Docker and a real PostgreSQL: the host registered
 * with the daemon's id, a leader elected, /readyz and /metrics served; and a clean stop.
 */
import { expect } from 'chai';
import Docker from 'dockerode';
import { startHostServices } from '../../src/hosts/host-services.js';
import { listHosts } from '../../src/db/queries/hosts.js';
import type { HostSettings } from '../../src/hosts/settings.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { parsePrometheusText } from '../support/prom-text.js';
import { httpGet } from '../support/http.js';

describe('hosts: startHostServices (real Docker, real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  const settings: HostSettings = { labels: { zone: 'test' }, capacity: 3, hostTimeoutS: 30, httpAddr: { host: '127.0.0.1', port: 0 } };

  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('registers the host, elects, serves /readyz and /metrics; stop() marks it stopped, steps down and closes', async () => {
    const docker = new Docker();
    const info = (await docker.info()) as { ID: string; ServerVersion: string };
    const svc = await startHostServices({ pool: db.pool, databaseUrl: db.url, reconcilerId: 'svc-host', docker, settings, elections: ['svc-cron'] });
    try {
      const [h] = await listHosts(db.pool, 30);
      expect(h).to.deep.include({ id: 'svc-host', alive: true, labels: { zone: 'test' }, capacity: 3, docker_id: info.ID, docker_version: info.ServerVersion });
      expect(svc.leaders['svc-cron']!.isLeader).to.equal(true);
      const ready = await httpGet(`${svc.http.url}/readyz`);
      expect(ready.status).to.equal(200);
      expect(JSON.parse(ready.body).checks).to.deep.equal({ database: { ok: true }, docker: { ok: true }, host_registry: { ok: true } });
      const metrics = parsePrometheusText((await httpGet(`${svc.http.url}/metrics`)).body);
      expect(metrics.get('highway_docker_intents')!.type).to.equal('gauge');
    } finally {
      await Promise.all([svc.stop(), svc.stop()]);
    }
    const [h] = await listHosts(db.pool, 30);
    expect(h!.alive).to.equal(false);
    expect(h!.stopped_at).to.be.instanceOf(Date);
    expect(svc.leaders['svc-cron']!.isLeader).to.equal(false);
    await httpGet(`${svc.http.url}/healthz`).then(
      () => expect.fail('still serving after stop'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
    );
  });

  it('a Docker daemon that does not answer: the host registers without its id and /readyz says docker failed', async () => {
    const docker = new Docker({ socketPath: '/nonexistent/docker.sock' });
    const svc = await startHostServices({ pool: db.pool, databaseUrl: db.url, reconcilerId: 'svc-nodocker', docker, settings });
    try {
      const h = (await listHosts(db.pool, 30)).find((x) => x.id === 'svc-nodocker')!;
      expect(h).to.deep.include({ alive: true, docker_id: null, docker_version: null });
      const ready = await httpGet(`${svc.http.url}/readyz`);
      expect(ready.status).to.equal(503);
      const body = JSON.parse(ready.body);
      expect(body.checks.docker.ok).to.equal(false);
      // The body names the state only; the socket path and the error are in the log (readyz.check_failed).
      expect(body.checks.docker.error).to.equal('check failed with an error (see the log: readyz.check_failed)');
      expect(ready.body).to.not.match(/ENOENT|nonexistent/);
      expect(body.checks.database).to.deep.equal({ ok: true });
    } finally {
      await svc.stop();
    }
  });
});
