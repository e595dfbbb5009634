/**
 * The differential test: for each supported docker-py argument, one container made by the Docker
 * CLI (`docker create` with the equivalent flags, plus the flags of the tool's secure defaults) and
 * one made from the tool's parameters exactly as the reconciler makes it (validated, policy-checked,
 * stored as JSON and read back by its schema version, mapped, created), then `docker inspect`'s
 * Config, HostConfig and Mounts compared. The documented differences (docs/parameters.md,
 * "Differences from the Docker CLI") are the base flags and IGNORED below; nothing else may differ.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import Docker from 'dockerode';
import { toCreateOptions } from '../../../src/params/container-config.js';
import { checkPolicy, defaultPolicy, type Policy } from '../../../src/params/policy.js';
import { parseRunParams } from '../../../src/params/schema.js';
import { readStoredSpec, versioned } from '../../../src/params/versions.js';
import { PARITY_CASES, SECURE_DEFAULTS, type ParityCase } from '../../support/parity-cases.js';
import { TEST_IMAGE, ensureTestImage } from '../../support/test-image.js';

const run = promisify(execFile);
const LABEL = 'hw-parity';

/** Everything allowed: this test is about the mapping; the policy has its own tests. */
const PERMISSIVE: Policy = {
  ...defaultPolicy,
  allow_privileged: true,
  allowed_capabilities: ['ALL'],
  allow_host_network: true,
  allow_container_network: true,
  allowed_devices: ['*'],
  allow_oom_kill_disable: true,
  allow_unconfined: true,
  allow_host_namespaces: true,
  allow_container_namespaces: true,
  allowed_sysctls: ['*'],
  allow_cgroup_parent: true,
  allow_device_requests: true,
  allow_device_cgroup_rules: true,
  allowed_runtimes: ['runc'],
  allowed_volume_drivers: ['local'],
  allow_storage_opt: true,
  allow_group_add: true,
  allow_negative_oom_score_adj: true,
  allow_cpu_realtime: true,
};

/**
 * Fields that differ by nature, not by mapping: the host name Docker derives from the container id
 * (unless set), and the attach flags the CLI sets for `docker create` (the tool reads output from the logs).
 */
const IGNORED = { Config: ['Hostname', 'AttachStdout', 'AttachStderr', 'AttachStdin'], HostConfig: [] as string[] };

/**
 * The API and the CLI spell "not set" differently (null, [], {}, "", false); so does inspect for
 * a restart policy ("" and "no"). Those are dropped: what remains is what is set.
 */
function setOnly(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(setOnly);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const kept = setOnly(v);
      if (kept !== undefined) out[k] = kept;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value === null || value === '' || value === false ? undefined : value;
}

/** The CLI (28) writes capability names with "CAP_" and sorted; the tool as given, without it. Same capabilities. */
const capabilities = (caps: string[] | null | undefined) => (caps ?? []).map((c) => c.replace(/^CAP_/, '')).sort();

function comparable(info: Docker.ContainerInspectInfo, c: ParityCase) {
  if (info.HostConfig.RestartPolicy?.Name === '') info.HostConfig.RestartPolicy.Name = 'no';
  info.HostConfig.CapAdd = capabilities(info.HostConfig.CapAdd);
  info.HostConfig.CapDrop = capabilities(info.HostConfig.CapDrop);
  // The CLI (28) does not keep the order of -e flags; names are distinct, so order carries nothing.
  info.Config.Env = [...(info.Config.Env ?? [])].sort();
  const config: Record<string, unknown> = { ...info.Config };
  for (const key of IGNORED.Config) if (!(key === 'Hostname' && 'hostname' in c.params)) delete config[key];
  const host: Record<string, unknown> = { ...info.HostConfig };
  for (const key of IGNORED.HostConfig) delete host[key];
  const mounts = (info.Mounts ?? []).map((m) => ({ ...m, Name: undefined, Source: m.Type === 'volume' && !m.Name?.startsWith('hw-parity') ? '(anonymous)' : m.Source }));
  return setOnly({ Config: config, HostConfig: host, Mounts: mounts });
}

describe('params: parity with the Docker CLI (real Docker, docker create vs the tool)', function () {
  this.timeout(120_000);
  const docker = new Docker();
  const runId = randomUUID();
  let target = '';

  before(async () => {
    await ensureTestImage(docker);
    // A helper container for container:<x> and volumes_from, with an anonymous volume to share.
    const helper = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sleep', '60'], Labels: { [LABEL]: runId }, Volumes: { '/shared': {} }, HostConfig: { NetworkMode: 'none', IpcMode: 'shareable' } });
    target = helper.id;
    await helper.start();
  });

  after(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
    for (const name of ['hw-parity-vol', 'hw-parity-vol2']) await docker.getVolume(name).remove().catch(() => {});
  });

  const fill = (text: string) => text.replaceAll('{target}', target);
  const fillParams = (params: Record<string, unknown>) => JSON.parse(fill(JSON.stringify(params))) as Record<string, unknown>;

  async function viaCli(c: ParityCase): Promise<{ info?: Docker.ContainerInspectInfo; error?: string }> {
    const cmd = Array.isArray(c.params['command']) ? (c.params['command'] as string[]) : ['true'];
    const args = ['create', '--label', `${LABEL}=${runId}`, ...(c.base ?? SECURE_DEFAULTS).map(fill), ...c.cli.map(fill), TEST_IMAGE, ...cmd];
    try {
      const { stdout } = await run('docker', args, { env: { ...process.env, DOCKER_API_VERSION: '1.41' } });
      return { info: await docker.getContainer(stdout.trim()).inspect() };
    } catch (err) {
      return { error: String((err as { stderr?: string }).stderr ?? err) };
    }
  }

  async function viaTool(c: ParityCase): Promise<{ info?: Docker.ContainerInspectInfo; error?: string }> {
    const accepted = parseRunParams({ image: TEST_IMAGE, ...(c.params['command'] ? {} : { command: ['true'] }), ...fillParams(c.params) });
    checkPolicy(accepted, PERMISSIVE);
    // As the reconciler reads it: stored as JSON, read back by its schema version, policy-checked again.
    const spec = readStoredSpec(JSON.parse(JSON.stringify(versioned(accepted))) as Record<string, unknown>);
    checkPolicy(spec, PERMISSIVE);
    const options = toCreateOptions(spec, { name: `hw-parity-${randomUUID()}`, labels: { [LABEL]: runId } });
    try {
      const created = await docker.createContainer(options);
      return { info: await created.inspect() };
    } catch (err) {
      return { error: String((err as { json?: { message?: string } }).json?.message ?? err) };
    }
  }

  for (const c of PARITY_CASES) {
    it(`${c.argument}: ${c.noCliFlag ? `(${c.noCliFlag.why})` : `docker create ${c.cli.join(' ')}`}`, async () => {
      const tool = await viaTool(c);
      if (c.noCliFlag) {
        expect(tool.error, tool.error).to.equal(undefined);
        c.noCliFlag.expect(tool.info as unknown as { Config: Record<string, unknown>; HostConfig: Record<string, unknown> });
        return;
      }
      const cli = await viaCli(c);
      if (c.refusedByDaemon) {
        // This daemon refuses it either way (reason in the case); the same refusal proves the same request.
        expect(cli.error, 'the CLI was expected to be refused').to.be.a('string');
        expect(tool.error, 'the tool was expected to be refused').to.be.a('string');
        expect(tool.error).to.include(cli.error!.replace(/^Error response from daemon: /, '').trim().split('\n')[0]!.slice(0, 60));
        return;
      }
      expect(cli.error, `docker create failed: ${cli.error}`).to.equal(undefined);
      expect(tool.error, `the tool's create failed: ${tool.error}`).to.equal(undefined);
      expect(comparable(tool.info!, c)).to.deep.equal(comparable(cli.info!, c));
    });
  }
});
