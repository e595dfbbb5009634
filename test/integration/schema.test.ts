/** The migrations and the code agree on the tables' columns. */
import { expect } from 'chai';
import { COLUMNS_WITHOUT_OUTPUT } from '../../src/db/queries/intent-columns.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

describe('schema: the code knows every column', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it("the reconciler's row read names every column of docker_containers but the stored output (a column it missed would read as undefined)", async () => {
    const res = await db.pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'highway' AND table_name = 'docker_containers'`,
    );
    const inTable = res.rows.map((r) => r.column_name).sort();
    expect(inTable).to.deep.equal([...COLUMNS_WITHOUT_OUTPUT, 'stdout', 'stderr'].sort());
  });
});
