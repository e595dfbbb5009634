/**
 * The ways of running one container to its end, for the scenarios to compare:
 *   highway          tools.docker.run through the tool registry (in-process reconciler, fresh database)
 *   dockerode        direct dockerode: create, start, wait, logs, remove (the floor)
 *   dockerode-hwcfg  the same, with the exact create body highway-docker sends (its secure
 *                    defaults: init, cap_drop ALL, no-new-privileges): separates Docker's cost
 *                    of that configuration from highway-docker's own overhead (opt-in)
 *   cli              `docker run --rm --network none ...` via child_process
 * Every container carries the run's label, so the driver removes whatever is left, pass or fail.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { toCreateOptions } from '../../src/params/container-config.js';
import { parseRunParams } from '../../src/params/schema.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext } from './context.js';
import { HighwayStack } from './highway.js';
import { HighwayTracer } from './trace.js';
import { nowMs } from './stats.js';

const execFileP = promisify(execFile);

export const COMMAND = ['sh', '-c', 'exit 0'];

export interface ModeRunner {
  readonly name: string;
  /** Run one container to its end. Resolves with named phase durations (ms) when the mode measures them. Throws on any failure. */
  runOne(): Promise<Record<string, number> | void>;
  /** Extra findings since the last call (e.g. a trace breakdown), then forget them. */
  takeReport?(): Promise<{ text: string; json: unknown } | null>;
}

export const ALL_MODES = ['highway', 'dockerode', 'dockerode-hwcfg', 'cli'] as const;

export async function createRunner(name: string, ctx: BenchContext): Promise<ModeRunner> {
  switch (name) {
    case 'highway':
      return highwayRunner(ctx);
    case 'dockerode':
      return dockerodeRunner(ctx, 'dockerode', plainCreateOptions(ctx));
    case 'dockerode-hwcfg':
      return dockerodeRunner(ctx, 'dockerode-hwcfg', highwayCreateOptions(ctx));
    case 'cli':
      return cliRunner(ctx);
    default:
      throw new Error(`unknown mode "${name}" (known: ${ALL_MODES.join(', ')})`);
  }
}

async function highwayRunner(ctx: BenchContext): Promise<ModeRunner> {
  const tracer = ctx.settings.trace ? new HighwayTracer() : null;
  const stack = await HighwayStack.start(
    ctx,
    tracer ? { wrapReconcilerPool: (p) => tracer.wrapPool(p), wrapDockerClient: (c) => tracer.wrapClient(c) } : {},
  );
  if (tracer) {
    await tracer.start(stack.db.url, ctx.docker, stack.label);
    ctx.onCleanup('tracer', () => tracer.stop());
  }
  return {
    name: 'highway',
    async runOne() {
      const t0 = tracer?.callStarted() ?? 0;
      const result = await stack.run({ command: COMMAND });
      if (result.status !== 'exited' || result.exit_code !== 0) {
        throw new Error(`highway run ${result.intent_id} ended ${result.status} (exit ${result.exit_code}): ${result.error ?? ''}`);
      }
      tracer?.callEnded(result.intent_id, t0);
    },
    async takeReport() {
      if (!tracer) return null;
      // Docker's StartedAt / FinishedAt of each container, as the reconciler recorded them.
      const rows = await stack.db.pool.query<{ id: string; started_at: Date | null; finished_at: Date | null }>(
        'SELECT id, started_at, finished_at FROM highway.docker_containers WHERE id = ANY($1::uuid[])',
        [tracer.finishedIntents()],
      );
      for (const r of rows.rows) tracer.containerTimes(r.id, r.started_at, r.finished_at);
      const b = tracer.breakdown();
      tracer.clear();
      return { text: b.text(), json: b.toJSON() };
    },
  };
}

function plainCreateOptions(ctx: BenchContext): Docker.ContainerCreateOptions {
  return { Image: TEST_IMAGE, Cmd: COMMAND, Labels: ctx.labels, HostConfig: { NetworkMode: 'none' } };
}

/** The create body highway-docker's reconciler would send for this run (minus its name and highway.* labels). */
function highwayCreateOptions(ctx: BenchContext): Docker.ContainerCreateOptions {
  const spec = parseRunParams({ image: TEST_IMAGE, command: COMMAND, labels: ctx.labels });
  const { name: _name, ...options } = toCreateOptions(spec, { name: 'unused', labels: ctx.labels });
  return options;
}

function dockerodeRunner(ctx: BenchContext, name: string, options: Docker.ContainerCreateOptions): ModeRunner {
  const docker = ctx.docker;
  return {
    name,
    async runOne() {
      const phases: Record<string, number> = {};
      let t = nowMs();
      const lap = (phase: string) => {
        const now = nowMs();
        phases[phase] = now - t;
        t = now;
      };
      const container = await docker.createContainer({ ...options, name: `bench-${randomUUID()}` });
      lap('create');
      try {
        await container.start();
        lap('start');
        const waited = (await container.wait()) as { StatusCode: number };
        lap('wait');
        const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
        await demux(docker, raw);
        lap('logs');
        if (waited.StatusCode !== 0) throw new Error(`${name}: container exited ${waited.StatusCode}`);
      } finally {
        await container.remove({ force: true, v: true });
        lap('remove');
      }
      return phases;
    },
  };
}

/** Split a non-TTY log buffer into stdout and stderr, as a caller of the floor would. */
async function demux(docker: Docker, raw: Buffer): Promise<{ stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const input = new PassThrough();
  const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c));
  const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c));
  const ended = new Promise<void>((resolve) => input.on('end', resolve));
  docker.modem.demuxStream(input, stdout, stderr);
  input.end(raw);
  await ended;
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function cliRunner(ctx: BenchContext): ModeRunner {
  const labelArgs = Object.entries(ctx.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  return {
    name: 'cli',
    async runOne() {
      await execFileP('docker', ['run', '--rm', '--network', 'none', ...labelArgs, TEST_IMAGE, ...COMMAND], { timeout: 120_000 });
    },
  };
}
