/**
 * A daemon shared with other software: the reconciler's Docker events subscription is filtered
 * at the source (by this reconciler's labels), so others' containers churning on the same
 * daemon are never sent to it, while its own containers' events still arrive.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { removeByLabel } from '../support/docker-env.js';

describe('Docker events are filtered at the source (real daemon)', function () {
  this.timeout(120_000);
  let h: Harness;
  /** Container ids of every container event the daemon sent to the reconciler. */
  const delivered = new Set<string>();
  const othersLabel = `highway-test.events-filter=${randomUUID()}`;

  before(async () => {
    h = await Harness.start({ withoutReconciler: true });
    // The reconciler's dockerode, recording what each events stream delivers.
    const docker = new Proxy(h.docker, {
      get(target, prop, receiver) {
        if (prop !== 'getEvents') return Reflect.get(target, prop, receiver);
        return async (opts: unknown) => {
          const stream = (await target.getEvents(opts as Docker.GetEventsOptions)) as unknown as NodeJS.ReadableStream;
          let buf = '';
          stream.on('data', (chunk: Buffer) => {
            buf += chunk.toString();
            const lines = buf.split('\n');
            buf = lines.pop() ?? '';
            for (const line of lines) {
              if (!line.trim()) continue;
              const e = JSON.parse(line) as { Type?: string; Actor?: { ID?: string } };
              if (e.Type === 'container' && e.Actor?.ID) delivered.add(e.Actor.ID);
            }
          });
          return stream;
        };
      },
    });
    await h.startReconciler({ docker: { ...h.client, docker } });
  });

  after(async () => {
    await removeByLabel(h.docker, othersLabel).catch(() => {});
    await h?.stop();
  });

  it("others' containers (no highway labels) are never delivered; ours are", async () => {
    const theirs = await h.docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { [othersLabel.split('=')[0]!]: othersLabel.split('=')[1]! }, HostConfig: { NetworkMode: 'none' } });
    await theirs.start();
    await theirs.wait();
    await theirs.remove({ force: true });
    const ours = await h.run({ command: ['sh', '-c', 'exit 0'] });
    expect(ours.status).to.equal('exited');
    // Our container's events came (its removal at the latest, before the result) ...
    expect(delivered.has(ours.container_id!), 'our container was seen on the events stream').to.equal(true);
    // ... and the other container's, which happened before ours, were never sent.
    expect(delivered.has(theirs.id), "another program's container was delivered to the reconciler").to.equal(false);
  });
});
