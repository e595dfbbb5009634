/**
 * `/readyz` of a real `highway-docker up` follows its dependencies: unready (503, naming the
 * failing checks) while its PostgreSQL is stopped or while its Docker daemon is stopped, and
 * ready (200) again once each is back, without restarting `up`. The PostgreSQL server and the
 * Docker daemon are this file's own (an embedded server, a second dockerd), so stopping them
 * never disturbs another test file.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { LABELS } from '../../src/model.js';
import { removeByLabel } from '../support/docker-env.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { startSecondDaemon, type SecondDaemon } from '../support/second-daemon.js';
import { ensureBuilt, startUp, type CliProcess } from '../support/processes.js';
import { eventually } from '../support/eventually.js';

interface Readiness {
  status: number;
  body: { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
}

function readyz(base: string): Promise<Readiness> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/readyz`, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) as Readiness['body'] }));
    });
    req.on('timeout', () => req.destroy(new Error('readyz timed out')));
    req.on('error', reject);
    req.end();
  });
}

const failing = (r: Readiness) => Object.keys(r.body.checks).filter((k) => !r.body.checks[k]!.ok).sort();

describe('readyz: a real `up` goes unready when PostgreSQL or its Docker daemon stops, and ready again', function () {
  this.timeout(90_000);
  const reconcilerId = `readyz-${randomUUID().slice(0, 8)}`;
  let pgServer: OwnPostgres;
  let daemon: SecondDaemon;
  let up: CliProcess | null = null;
  let base: string;

  before(async function () {
    this.timeout(120_000);
    ensureBuilt();
    daemon = await startSecondDaemon(40_000, 'hw-multihost-docker');
    pgServer = await startOwnPostgres();
    up = await startUp({
      databaseUrl: pgServer.url,
      reconcilerId,
      env: { DOCKER_HOST: `unix://${daemon.socketPath}`, HIGHWAY_HOST_TIMEOUT_S: '3' },
    });
    const ready = up.events('up.ready')[0]!;
    base = String(ready['http']);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && up) {
      console.log(`      up ${up.alive ? 'alive' : `exited ${JSON.stringify(up.child.exitCode ?? up.child.signalCode)}`}; last lines: ${JSON.stringify(up.lines.slice(-8))}; stderr: ${up.stderr.slice(-3000)}`);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await up?.kill();
    await pgServer?.start().catch(() => {});
    await daemon?.startDaemon().catch(() => {});
    if (daemon) await removeByLabel(daemon.docker, `${LABELS.reconcilerId}=${reconcilerId}`).catch(() => {});
    await pgServer?.stop().catch(() => {});
    await daemon?.stop().catch(() => {});
  });

  const until = (pred: (r: Readiness) => boolean, what: string) =>
    eventually(async () => {
      const r = await readyz(base);
      return pred(r) ? r : null;
    }, { what: what, timeoutMs: 30_000, everyMs: 200 });

  it('is ready (200) with every check passing', async () => {
    const r = await until((x) => x.status === 200, 'ready');
    expect(r.body.ready).to.equal(true);
    expect(Object.keys(r.body.checks)).to.include.members(['database', 'docker', 'listen', 'docker_events', 'docker_breaker', 'host_registry']);
    expect(failing(r)).to.deep.equal([]);
  });

  it('PostgreSQL stopped: 503 naming the database checks; started again: 200', async () => {
    await pgServer.stopServer();
    const down = await until((x) => x.status === 503 && failing(x).includes('database'), '503 with the database failing');
    console.log(`      PostgreSQL down: failing ${failing(down).join(', ')}`);
    expect(down.body.ready).to.equal(false);
    expect(failing(down)).to.not.include('docker');
    expect(down.body.checks['database']!.error).to.be.a('string').and.not.equal('');
    expect(up!.alive, 'up keeps running').to.equal(true);

    await pgServer.start();
    const back = await until((x) => x.status === 200, 'ready again after PostgreSQL is back');
    expect(failing(back)).to.deep.equal([]);
  });

  it('Docker daemon stopped: 503 naming the docker check; started again: 200', async () => {
    await daemon.stopDaemon();
    const down = await until((x) => x.status === 503 && failing(x).includes('docker'), '503 with the docker check failing');
    console.log(`      Docker down: failing ${failing(down).join(', ')} (${down.body.checks['docker']!.error})`);
    expect(down.body.ready).to.equal(false);
    expect(failing(down)).to.not.include('database');
    expect(up!.alive, 'up keeps running').to.equal(true);

    await daemon.startDaemon();
    const back = await until((x) => x.status === 200, 'ready again after the daemon is back');
    expect(failing(back)).to.deep.equal([]);
  });
});
