/**
 * Shared helpers of the per-parameter integration tests (test/integration/params/*.test.ts):
 * observing a container while it runs, reading /proc/self/status, and asserting that a
 * rejected request left nothing behind.
 */
import { expect } from 'chai';
import type Docker from 'dockerode';
import type { ActivityContext } from '../../../src/tools/registry.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { Harness, TEST_IMAGE, type HarnessOptions } from '../../support/harness.js';
import { useHarness } from '../../support/fixture.js';

/** The image the parameter tests run (the shared busybox test image). */
export const PARAMS_IMAGE = TEST_IMAGE;

export const startHarness = (options: HarnessOptions = {}): Promise<Harness> => Harness.start(options);

/**
 * A harness for the enclosing describe's tests (see useHarness), and a check after each test
 * that nothing it ran is left.
 */
export function useParamsHarness(options: HarnessOptions = {}): Harness {
  const h = useHarness(options);
  afterEach(async () => {
    await expectNoContainers(h);
  });
  return h;
}

/** Linux capability numbers (include/uapi/linux/capability.h). */
const CAPABILITY_BITS: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

/** "00000000a80425fb" -> the sorted capability names whose bits are set. */
export function capabilityNames(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITY_BITS.filter((_, bit) => (mask >> BigInt(bit)) & 1n).sort();
}

/** One field of a /proc/<pid>/status dump ("CapEff", "NoNewPrivs", ...). */
export function statusField(status: string, name: string): string {
  const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`no ${name} in:\n${status}`);
  return line.slice(name.length + 1).trim();
}

/** The capabilities of the container's main process, from its own /proc/self/status. */
export function effectiveCapabilities(status: string): { eff: string[]; bnd: string[]; noNewPrivs: string } {
  return {
    eff: capabilityNames(statusField(status, 'CapEff')),
    bnd: capabilityNames(statusField(status, 'CapBnd')),
    noNewPrivs: statusField(status, 'NoNewPrivs'),
  };
}

/**
 * Runs `params` (the command should sleep a little), inspects the container once it runs,
 * then waits for the result.
 */
export async function inspectWhileRunning(
  h: Harness,
  params: Record<string, unknown>,
  ctx: ActivityContext = h.ctx(),
): Promise<{ info: Docker.ContainerInspectInfo; result: DockerRunResult }> {
  const running = h.run(params, ctx);
  running.catch(() => {}); // awaited below; avoids an unhandled rejection while waiting
  const row = await h.waitFor(ctx.activity_id, (r) => r.status !== 'pending' && r.status !== 'pulling' && r.status !== 'created');
  if (row.status !== 'running') {
    const result = await running.catch((err: Error) => err); // let it settle (and its container go) first
    expect.fail(`expected the container to run; got ${JSON.stringify(result)}`);
  }
  const info = await h.docker.getContainer(row.container_id!).inspect();
  return { info, result: await running };
}

export { rejection } from '../../support/assertions.js';

/** Is the container gone from the daemon? */
export const containerGone = (h: Harness, id: string | null): Promise<boolean> => h.containerGone(id);

/** Nothing of the harness's is left on the daemon (tests that keep a container remove their own). */
export async function expectNoContainers(h: Harness): Promise<void> {
  const left = await h.containers();
  expect(left.map((c) => `${c.Names[0]} ${c.State}`)).to.deep.equal([]);
}

/** A request refused before anything was stored: no intent, no workflow run row, no container, no create. */
export async function expectNothingStored(h: Harness, ctx: ActivityContext): Promise<void> {
  expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
  const runs = await h.db.pool.query('SELECT 1 FROM highway.workflow_runs WHERE id = $1', [ctx.workflow_run_id]);
  expect(runs.rowCount).to.equal(0);
  const created = h.log.lines.filter((l) => l['activity_id'] === ctx.activity_id && l['event'] === 'container.created');
  expect(created).to.deep.equal([]);
  const containers = await h.docker.listContainers({ all: true, filters: { label: [`highway.activity_id=${ctx.activity_id}`] } });
  expect(containers).to.deep.equal([]);
}

/** A shell command that prints a marker line and then sleeps, so the container can be inspected. */
export const sleepy = (script: string, seconds = 0.6): string[] => ['sh', '-c', `${script}; sleep ${seconds}`];

/** Interface names from /proc/net/dev (the network namespace of the reading process). */
export function interfaces(procNetDev: string): string[] {
  return procNetDev
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]!.trim())
    .filter((name) => name !== '')
    .sort();
}
