/**
 * tools.docker.cp and `highway-docker cp TARGET:PATH DEST` on a real daemon and a real
 * PostgreSQL: a file as its bytes, a directory as a tar (the CLI extracts it, or writes the tar
 * to stdout with `-`), from a running container and from a kept (ended, not removed) one;
 * bounded by max_bytes and the policy; another tenant's container is "not found".
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tarEntries, type CpResult } from '../../../src/operations/cp.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { Harness } from '../../support/harness.js';
import { ROOT, ensureBuilt, runCli } from '../../support/processes.js';
import { highwayRejection } from '../../support/assertions.js';

const A = 'tenant-a';
const B = 'tenant-b';

/** The CLI with its stdout as bytes (a tar is binary). */
function cliBytes(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'highway-docker.js'), ...args],
      { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr: stderr.toString() }),
    );
  });
}

describe('tools.docker.cp and the cp command (real Docker, real PostgreSQL)', function () {
  this.timeout(90_000);
  let h: Harness;
  let running: DockerRunResult;
  let kept: DockerRunResult;
  let tmp: string;
  const cp = (params: Record<string, unknown>, tenant = A) => h.registry.call<CpResult>('tools.docker.cp', params, h.ctx({ tenant_id: tenant }));
  /** Files in the container: /work/f (5 bytes), /work/d/{a, sub/b, link -> a}, /work/big (4096 bytes). */
  const SETUP = 'mkdir -p /work/d/sub && printf hello > /work/f && chmod 640 /work/f && echo a > /work/d/a && echo b > /work/d/sub/b && ln -s a /work/d/link && head -c 4096 /dev/zero > /work/big';

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    h = await Harness.start();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hw-cp-'));
    running = await h.run({ detach: true, command: ['sh', '-c', 'exec sleep 300'] }, h.ctx({ tenant_id: A }));
    const made = await h.registry.call<{ exit_code: number }>('tools.docker.exec', { target: running.intent_id, command: ['sh', '-c', SETUP] }, h.ctx({ tenant_id: A }));
    expect(made.exit_code).to.equal(0);
    kept = await h.run({ command: ['sh', '-c', 'echo kept > /out.txt'], auto_remove: false }, h.ctx({ tenant_id: A }));
    expect(kept.status).to.equal('exited');
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
    for (const r of [running, kept]) if (r) await h.registry.call('tools.docker.remove', { target: r.intent_id, force: true }, h.ctx({ tenant_id: A })).catch(() => {});
    await h?.stop();
  });

  it('a file of a running container comes back as its bytes, with its mode; audited; the bytes do not stay in the row', async () => {
    const r = await cp({ target: running.intent_id, path: '/work/f' });
    expect(r).to.include({ intent_id: running.intent_id, container_id: running.container_id, path: '/work/f', name: 'f', type: 'file', format: 'bytes', size_bytes: 5, mode: 0o640 });
    expect(Buffer.from(r.content_base64, 'base64').toString()).to.equal('hello');
    const ops = await h.db.pool.query(`SELECT kind, status, result FROM highway.docker_operations WHERE intent_id = $1 AND kind = 'cp'`, [running.intent_id]);
    expect(ops.rows[0]).to.include({ kind: 'cp', status: 'done' });
    expect(ops.rows[0].result).to.not.have.property('content_base64');
    const audit = await h.db.pool.query(`SELECT outcome FROM highway.docker_audit WHERE intent_id = $1 AND operation = 'tools.docker.cp'`, [running.intent_id]);
    expect(audit.rows.map((a) => a.outcome)).to.include('ok');
  });

  it('a directory comes back as a tar holding it (files, subdirectories, links); format tar gives a file as a tar too', async () => {
    const r = await cp({ target: running.short_id, path: '/work/d/' });
    expect(r).to.include({ type: 'directory', format: 'tar', name: 'd', path: '/work/d', size_bytes: 4 });
    const entries = tarEntries(Buffer.from(r.content_base64, 'base64'));
    expect(entries.map((e) => `${e.type}:${e.name}`)).to.include.members(['directory:d', 'file:d/a', 'directory:d/sub', 'file:d/sub/b', 'symlink:d/link']);
    expect(entries.find((e) => e.name === 'd/sub/b')!.data.toString()).to.equal('b\n');
    const t = await cp({ target: running.intent_id, path: '/work/f', format: 'tar' });
    expect(t.format).to.equal('tar');
    expect(tarEntries(Buffer.from(t.content_base64, 'base64')).map((e) => [e.name, e.data.toString()])).to.deep.equal([['f', 'hello']]);
  });

  it('copies from a kept container that has ended (auto_remove false)', async () => {
    const r = await cp({ target: kept.intent_id, path: '/out.txt' });
    expect(Buffer.from(r.content_base64, 'base64').toString()).to.equal('kept\n');
  });

  it('is bounded: past max_bytes is too_large; above the policy is policy_denied; a missing path not_found; a relative path invalid', async () => {
    const big = await highwayRejection(cp({ target: running.intent_id, path: '/work/big', max_bytes: 1000 }));
    expect(big.code).to.equal('too_large');
    expect(big.message).to.match(/max_bytes/);
    const policy = await highwayRejection(cp({ target: running.intent_id, path: '/work/f', max_bytes: '100m' }));
    expect(policy.code).to.equal('policy_denied');
    expect(policy.message).to.match(/^max_bytes/);
    const missing = await highwayRejection(cp({ target: running.intent_id, path: '/work/nothing-here' }));
    expect(missing.code).to.equal('not_found');
    expect(missing.message).to.match(/\/work\/nothing-here/);
    const relative = await highwayRejection(cp({ target: running.intent_id, path: 'work/f' }));
    expect(relative).to.include({ code: 'invalid_params', field: 'path' });
    const unknown = await highwayRejection(cp({ target: running.intent_id, path: '/work/f', mode: 1 }));
    expect(unknown).to.include({ code: 'invalid_params', field: 'mode' });
  });

  it("another tenant's container is not found, worded as a missing one; its audit row says cross-tenant", async () => {
    const other = await highwayRejection(cp({ target: running.intent_id, path: '/work/f' }, B));
    const none = await highwayRejection(cp({ target: '0123456789ab', path: '/work/f' }, B));
    expect(other.code).to.equal('not_found');
    expect(other.message.replace(running.intent_id, 'X')).to.equal(none.message.replace('0123456789ab', 'X'));
    const audit = await h.db.pool.query(`SELECT outcome, detail FROM highway.docker_audit WHERE tenant_id = $1 AND operation = 'tools.docker.cp'`, [B]);
    expect(audit.rows.some((a) => a.outcome === 'denied' && a.detail.cross_tenant === true)).to.equal(true);
  });

  it('a removed container has nothing to copy: not_found', async () => {
    const gone = await h.run({ command: ['true'] }, h.ctx({ tenant_id: A }));
    const err = await highwayRejection(cp({ target: gone.intent_id, path: '/etc/hostname' }));
    expect(err.code).to.equal('not_found');
    expect(err.message).to.match(/removed/);
  });

  describe('highway-docker cp TARGET:PATH DEST', () => {
    const env = () => ({ DATABASE_URL: h.db.url });

    it('writes a file to DEST, or into DEST when it is a directory', async () => {
      const file = path.join(tmp, 'copy-of-f');
      const r = await runCli(['cp', '--tenant', A, `${running.short_id}:/work/f`, file], env());
      expect(r.code, r.stderr).to.equal(0);
      expect(await readFile(file, 'utf8')).to.equal('hello');
      const into = path.join(tmp, 'into');
      await mkdir(into);
      expect((await runCli(['cp', '--tenant', A, `${running.intent_id}:/work/f`, into], env())).code).to.equal(0);
      expect(await readFile(path.join(into, 'f'), 'utf8')).to.equal('hello');
    });

    it('extracts a directory: to a new DEST as DEST, into an existing one as DEST/NAME; links kept', async () => {
      const fresh = path.join(tmp, 'fresh');
      const r = await runCli(['cp', '--tenant', A, `${running.intent_id}:/work/d`, fresh], env());
      expect(r.code, r.stderr).to.equal(0);
      expect(await readFile(path.join(fresh, 'a'), 'utf8')).to.equal('a\n');
      expect(await readFile(path.join(fresh, 'sub', 'b'), 'utf8')).to.equal('b\n');
      expect(await readlink(path.join(fresh, 'link'))).to.equal('a');
      const existing = path.join(tmp, 'existing');
      await mkdir(existing);
      expect((await runCli(['cp', '--tenant', A, `${running.intent_id}:/work/d`, existing], env())).code).to.equal(0);
      expect((await stat(path.join(existing, 'd', 'sub', 'b'))).isFile()).to.equal(true);
    });

    it('with DEST - writes a tar stream to stdout (a file too); --json says what was copied, without the bytes', async () => {
      const r = await cliBytes(['cp', '--tenant', A, `${running.intent_id}:/work/f`, '-'], env());
      expect(r.code, r.stderr).to.equal(0);
      expect(tarEntries(r.stdout).map((e) => [e.name, e.data.toString()])).to.deep.equal([['f', 'hello']]);
      const d = await cliBytes(['cp', '--tenant', A, `${kept.intent_id}:/out.txt`, '-'], env());
      expect(tarEntries(d.stdout)[0]!.data.toString()).to.equal('kept\n');
      const file = path.join(tmp, 'json-copy');
      const j = await runCli(['cp', '--tenant', A, '--json', `${running.intent_id}:/work/f`, file], env());
      const doc = JSON.parse(j.stdout) as Record<string, unknown>;
      expect(doc).to.include({ type: 'file', size_bytes: 5, dest: file });
      expect(doc).to.not.have.property('content_base64');
    });

    it("another tenant's is not found (exit 125, JSON error); SOURCE without a colon is refused naming TARGET:PATH", async () => {
      const r = await runCli(['cp', '--tenant', B, '--json', `${running.intent_id}:/work/f`, path.join(tmp, 'x')], env());
      expect(r.code).to.equal(125);
      expect(JSON.parse(r.stdout).error.code).to.equal('not_found');
      const bad = await runCli(['cp', '--tenant', A, '--json', running.intent_id, path.join(tmp, 'y')], env());
      expect(bad.code).to.equal(125);
      expect(JSON.parse(bad.stdout).error).to.include({ code: 'invalid_params', field: 'TARGET:PATH' });
    });
  });
});
