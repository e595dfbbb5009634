/**
 * The registry of operations is the one list of kinds: the database's list follows from it at
 * migrate time, and a row of a kind not in it is refused by the database itself.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { migrate } from '../../../src/db/migrate.js';
import { OPERATIONS } from '../../../src/operations/registry.js';
import { useFreshDatabase } from '../../support/fixture.js';

describe('operations registry: the database follows it', function () {
  this.timeout(60_000);
  const db = useFreshDatabase();

  const kinds = async () =>
    (await db.pool.query<{ name: string; tool: string; rerun_safe: boolean }>(`SELECT name, tool, rerun_safe FROM highway.docker_operation_kinds ORDER BY name`)).rows;

  it('migrate records every registered operation: its kind, tool and whether a rerun is safe', async () => {
    const expected = OPERATIONS.map((d) => ({ name: d.name, tool: d.tool, rerun_safe: d.rerunSafe })).sort((a, b) => a.name.localeCompare(b.name));
    expect(await kinds()).to.deep.equal(expected);
    // Again (nothing new to apply): the same list.
    await migrate(db.pool);
    expect(await kinds()).to.deep.equal(expected);
  });

  it('a row of a kind the registry does not have is refused by the database, naming the constraint', async () => {
    const intent = randomUUID();
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec) VALUES ($1, $2, $3, 'default', 'x', '{}')`,
      [intent, randomUUID(), randomUUID()],
    );
    const insert = (kind: string) =>
      db.pool.query(
        `INSERT INTO highway.docker_operations (id, tenant_id, kind, intent_id, reconciler_id, params) VALUES ($1, 'default', $2, $3, 'r1', '{}')`,
        [randomUUID(), kind, intent],
      );
    let refused: Error | null = null;
    await insert('teleport').catch((err: Error) => (refused = err));
    expect(refused, 'an unknown kind must be refused').to.not.equal(null);
    expect(String(refused)).to.match(/docker_operations_kind_fkey/);
    for (const d of OPERATIONS) await insert(d.name); // every registered one is accepted
  });
});
