/**
 * The Docker events stream breaks or stalls, without restarting any daemon: the reconciler
 * talks to the main daemon through a unix-socket proxy of this test, which can cut the
 * events connections (and refuse new ones for a while) or stall them (keep them open and
 * forward nothing). After a break: reconnect with backoff, replay with `since`, relist,
 * converge. After a stall: the same, once the stall is noticed. The periodic resync is 120 s
 * away, so it cannot be what converges.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { Harness } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';
import { createDockerClient } from '../../../src/docker/client.js';
import { expectConverged, sleep } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';

const DAEMON_SOCKET = '/var/run/docker.sock';

/** A unix-socket proxy to the daemon that can break or stall the events connections. */
class EventsProxy {
  readonly socketPath = path.join(os.tmpdir(), `hw-events-proxy-${randomUUID().slice(0, 8)}.sock`);
  private readonly server: net.Server;
  private readonly events = new Set<net.Socket>();
  private readonly all = new Set<net.Socket>();
  refuseEvents = false;
  stalled = false;

  constructor() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(DAEMON_SOCKET);
      this.all.add(client);
      let isEvents = false;
      client.on('data', (d) => {
        if (/^GET [^ ]*\/events/m.test(d.toString('latin1'))) {
          isEvents = true;
          this.events.add(client);
          if (this.refuseEvents) {
            client.destroy();
            upstream.destroy();
            return;
          }
        }
        upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (isEvents && this.stalled) return; // swallowed: the connection stays open, silent
        client.write(d);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.events.delete(client);
        this.all.delete(client);
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
  }

  listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  /** Cut every events connection now. */
  breakEvents(): void {
    for (const s of this.events) s.destroy();
  }

  close(): Promise<void> {
    for (const s of this.all) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('faults: the Docker events stream breaks or stalls (proxy)', function () {
  this.timeout(60_000);
  let h: Harness;
  let proxy: EventsProxy;

  before(async () => {
    proxy = new EventsProxy();
    await proxy.listen();
    h = await Harness.start({ withoutReconciler: true });
    const client = createDockerClient({ logger: h.log.logger, docker: new Docker({ socketPath: proxy.socketPath }) });
    await h.startReconciler({ docker: client, resyncIntervalMs: 120_000 });
  });
  after(async () => {
    await h?.stopReconciler();
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
    await proxy?.close();
  });

  it('broken while a container exits: reconnect with backoff, replay with since / relist, and collect it', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'sleep 1.5; echo exited-during-break'] }, ctx);
    const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    const connects = h.log.events('docker.events_connected').length;
    proxy.refuseEvents = true;
    proxy.breakEvents();
    await h.docker.getContainer(row.container_id!).wait(); // it exits while no stream is up
    await sleep(1_500); // a few refused reconnects
    proxy.refuseEvents = false;
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('exited-during-break\n');
    expect(h.log.events('docker.events_disconnected').length).to.be.at.least(1);
    expect(h.log.events('docker.events_connected').slice(connects).some((l) => l['reconnect'] === true)).to.equal(true);
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });

  it('stalled (open, silent): the stall is noticed, the stream reconnects, and an exit during the stall is collected within 20 s', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'sleep 1; echo exited-during-stall'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    proxy.stalled = true;
    try {
      const t0 = Date.now();
      const row = await eventually(async () => {
          const r = await h.intentOfActivity(ctx.activity_id);
          return r && r.removed_at ? r : null;
        }, { what: 'the intent ends although its events stream is stalled (no stall detection: only the periodic resync, 120 s here, would catch it)', timeoutMs: 20_000 });
      expect(row.status).to.equal('exited');
      expect(row.stdout).to.equal('exited-during-stall\n');
      expect(Date.now() - t0).to.be.below(20_000);
    } finally {
      proxy.stalled = false;
      proxy.breakEvents(); // let the stream recover for whatever follows
    }
    await call;
  });
});
