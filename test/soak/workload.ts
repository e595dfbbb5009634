/**
 * The workload: callers that use every tool, drawn from the seed, each recording what it asked
 * for and exactly what it received. A caller is either in-process (the library tools) or a
 * `highway-docker run --json` child (a worker in a box that heartbeats; the nemesis may kill or
 * freeze it).
 */
import { randomUUID } from 'node:crypto';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import type { ExecResult } from '../../src/tools/docker-ops.js';
import { setPaused } from '../../src/kinds/schedules/operations.js';
import { withPgRetry } from '../../src/db/retry.js';
import { spawnCli, parseRunResult, type CliProcess } from '../support/processes.js';
import { TEST_IMAGE, WORKER_TIMEOUT_S, type World } from './world.js';
import type { Rng } from './rng.js';

export const OPS = ['run_pull', 'run_ok', 'run_fail', 'run_timeout', 'run_cancel', 'run_stop', 'run_exec', 'run_detach_wait', 'run_keep_remove', 'cli_run', 'cli_worker', 'cross_tenant'] as const;
export type Op = (typeof OPS)[number];

/** What a caller got back, exactly. */
export type Received =
  | { kind: 'result'; result: DockerRunResult }
  | { kind: 'error'; message: string; code?: string }
  | { kind: 'cli'; exit: number | null; signal: string | null; result: DockerRunResult | null; stderr: string }
  /** A cross-tenant probe: what it got is in its steps. */
  | { kind: 'probe' };

export interface Caller {
  n: number;
  op: Op;
  tenant: string;
  via: 'tool' | 'cli';
  activity_id: string;
  workflow_run_id: string;
  intent_id: string | null;
  placement: string | null;
  /** What the program prints and exits with, when it runs to its end. */
  expect: { stdout?: string; stderr?: string; exit_code?: number; timeout?: boolean; cancel?: boolean; stop?: boolean };
  /** The final result the caller received (for detached runs: the wait's). */
  received: Received | null;
  /** Other things it received on the way (exec, stop, remove, cross-tenant probe). */
  steps: Array<{ what: string; got: unknown; at: string }>;
  /** Faults aimed at this caller (worker_kill, worker_pause). */
  faults: string[];
  started_at: string;
  ended_at: string | null;
  done: Promise<void>;
  proc?: CliProcess;
}

export interface CronSchedule {
  tenant: string;
  name: string;
  overlap: string;
}

const OVERLAPS = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all'] as const;

function errOf(err: unknown): { kind: 'error'; message: string; code?: string } {
  const e = err as { message?: string; code?: string };
  return { kind: 'error', message: String(e?.message ?? err), ...(e?.code ? { code: String(e.code) } : {}) };
}

export class Workload {
  readonly callers: Caller[] = [];
  readonly schedules: CronSchedule[] = [];
  private n = 0;
  private stopped = false;
  readonly maxOutstanding: number;

  constructor(
    private readonly world: World,
    private readonly rng: Rng,
    private readonly log: (msg: string) => void,
  ) {
    this.maxOutstanding = Number(process.env['SOAK_CONCURRENCY'] ?? 8);
  }

  get outstanding(): Caller[] {
    return this.callers.filter((c) => c.ended_at === null);
  }

  /** Live `run` children (worker processes) the nemesis may kill or freeze. */
  liveWorkers(): Caller[] {
    return this.callers.filter((c) => c.proc && c.proc.alive && c.ended_at === null);
  }

  /** Cron schedules, one per overlap policy, every 3 s (1 s resolution), each run outlasting the interval. */
  async startSchedules(): Promise<void> {
    const count = Number(process.env['SOAK_SCHEDULES'] ?? OVERLAPS.length);
    for (const [i, overlap] of OVERLAPS.slice(0, count).entries()) {
      const tenant = this.world.tenants[i % this.world.tenants.length]!;
      const name = `soak-${overlap}`;
      const run = this.rng.int(3, 5);
      await this.world.registry.call(
        'tools.cron.durable_cron',
        {
          name,
          schedule: `*/3 * * * * *`,
          overlap,
          catchup_window: 2,
          // Every tick kept: the checker reads the whole history (the default keeps the newest 100
          // of each kind, so a 30-minute run at 3 s lost its oldest 500: seed 2030's cron_every_fire).
          keep_succeeded: 100_000,
          keep_failed: 100_000,
          params: { image: TEST_IMAGE, command: ['sh', '-c', `echo tick-$HIGHWAY_SCHEDULED_TIME; sleep ${run}`], timeout: 60 },
        },
        { tenant_id: tenant, workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null },
      );
      this.schedules.push({ tenant, name, overlap });
    }
  }

  async pauseSchedules(): Promise<void> {
    for (const s of this.schedules) {
      for (let i = 0; i < 20; i++) {
        try {
          await setPaused(this.world.pool, { tenant_id: s.tenant, actor: 'soak' }, s.name, true, 'soak: quiescence');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  }

  /** Launch callers until `until` (epoch ms), at most maxOutstanding at once. */
  async run(until: number): Promise<void> {
    while (!this.stopped && Date.now() < until) {
      if (this.outstanding.length < this.maxOutstanding) this.launch();
      await new Promise((r) => setTimeout(r, this.rng.int(300, 1200)));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private newCaller(op: Op, via: 'tool' | 'cli', expect: Caller['expect']): Caller {
    const n = ++this.n;
    const c: Caller = {
      n,
      op,
      via,
      tenant: this.rng.pick(this.world.tenants),
      activity_id: randomUUID(),
      workflow_run_id: randomUUID(),
      intent_id: null,
      placement: null,
      expect,
      received: null,
      steps: [],
      faults: [],
      started_at: new Date().toISOString(),
      ended_at: null,
      done: Promise.resolve(),
    };
    this.callers.push(c);
    return c;
  }

  private ctx(c: Caller) {
    return { tenant_id: c.tenant, workflow_run_id: c.workflow_run_id, activity_id: c.activity_id, worker_id: null };
  }

  private placement(c: Caller): Record<string, unknown> {
    const p = this.rng.pick(['any', 'A', 'B', 'zone'] as const);
    if (p === 'any') return {};
    c.placement = p;
    const h = this.world.hosts[p === 'B' ? 1 : 0]!;
    if (p === 'zone') return { placement: { labels: { zone: this.rng.pick(['a', 'b']) } } };
    return { placement: { host: h.id } };
  }

  private async call<T>(c: Caller, tool: string, params: Record<string, unknown>): Promise<T> {
    return this.world.registry.call<T>(tool, params, this.ctx(c));
  }

  private async runTool(c: Caller, params: Record<string, unknown>): Promise<DockerRunResult> {
    const res = await this.call<DockerRunResult>(c, 'tools.docker.run', { image: TEST_IMAGE, labels: { 'highway-soak.n': String(c.n) }, ...this.placement(c), ...params });
    c.intent_id = res.intent_id;
    return res;
  }

  private step(c: Caller, what: string, got: unknown): void {
    c.steps.push({ what, got, at: new Date().toISOString() });
  }

  private launch(): void {
    const op = this.rng.weighted<Op>({
      run_pull: this.world.pullImage ? 1 : 0, run_ok: 4, run_fail: 2, run_timeout: 1, run_cancel: 1, run_stop: 1, run_exec: 1, run_detach_wait: 2, run_keep_remove: 1, cli_run: 2, cli_worker: 2, cross_tenant: 1,
    });
    const k = this.n + 1;
    const body = (exit: number, sleep: string) => `echo out-${k}; echo err-${k} >&2; ${sleep}exit ${exit}`;
    let c: Caller;
    let work: () => Promise<void>;
    switch (op) {
      case 'run_ok':
      case 'run_fail': {
        const exit = op === 'run_ok' ? 0 : this.rng.int(1, 5);
        const sleep = this.rng.pick(['', 'sleep 1; ', 'sleep 3; ']);
        c = this.newCaller(op, 'tool', { stdout: `out-${k}\n`, stderr: `err-${k}\n`, exit_code: exit });
        work = async () => {
          c.received = { kind: 'result', result: await this.runTool(c, { command: ['sh', '-c', body(exit, sleep)] }) };
        };
        break;
      }
      case 'run_pull':
        // From the local registry, pulled every time (pull_policy always) by whichever host runs it.
        c = this.newCaller(op, 'tool', { stdout: `out-${k}\n`, stderr: `err-${k}\n`, exit_code: 0 });
        work = async () => {
          c.received = { kind: 'result', result: await this.runTool(c, { image: this.world.pullImage, pull_policy: 'always', command: ['sh', '-c', body(0, '')] }) };
        };
        break;
      case 'run_timeout':
        c = this.newCaller(op, 'tool', { timeout: true, stdout: `out-${k}\n` });
        work = async () => {
          c.received = { kind: 'result', result: await this.runTool(c, { command: ['sh', '-c', `echo out-${k}; exec sleep 60`], timeout: 2 }) };
        };
        break;
      case 'run_cancel':
        c = this.newCaller(op, 'tool', { cancel: true, stdout: `out-${k}\n` });
        work = async () => {
          // The workflow engine's own writes (the soak plays the engine here), not a tool of the
          // product's: they ride out a database outage, so a failure of theirs is never the caller's
          // (seed 2 in soak:ci: this insert, 1 s into a pg_restart, was reported as the tool's error).
          await withPgRetry('soak: workflow run', () => this.world.pool.query(`INSERT INTO highway.workflow_runs (id, tenant_id, status) VALUES ($1, $2, 'running') ON CONFLICT (id) DO NOTHING`, [c.workflow_run_id, c.tenant]), { maxRetryTime: 60_000 });
          const result = this.runTool(c, { command: ['sh', '-c', `echo out-${k}; exec sleep 60`] });
          const delay = this.rng.int(500, 4000);
          await new Promise((r) => setTimeout(r, delay));
          await withPgRetry('soak: cancel workflow run', () => this.world.pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [c.workflow_run_id]), { maxRetryTime: 60_000 });
          this.step(c, 'workflow_run cancelled', { after_ms: delay });
          c.received = { kind: 'result', result: await result };
        };
        break;
      case 'run_stop':
      case 'run_exec':
      case 'run_detach_wait': {
        const detachedCmd = op === 'run_detach_wait' ? `echo out-${k}; sleep ${this.rng.int(0, 3)}; echo err-${k} >&2; exit 0` : `echo out-${k}; exec sleep 120`;
        c = this.newCaller(op, 'tool', op === 'run_detach_wait' ? { stdout: `out-${k}\n`, stderr: `err-${k}\n`, exit_code: 0 } : { stop: true, stdout: `out-${k}\n` });
        work = async () => {
          const started = await this.runTool(c, { detach: true, command: ['sh', '-c', detachedCmd] });
          this.step(c, 'run (detached)', started);
          if (op === 'run_exec') {
            try {
              const ex = await this.call<ExecResult>(c, 'tools.docker.exec', { target: started.intent_id, command: ['sh', '-c', `echo exec-${k}`], timeout: 30 });
              this.step(c, 'exec', ex);
            } catch (err) {
              this.step(c, 'exec', errOf(err));
            }
          }
          if (op !== 'run_detach_wait') {
            await new Promise((r) => setTimeout(r, this.rng.int(200, 2000)));
            try {
              this.step(c, 'stop', await this.call(c, 'tools.docker.stop', { target: started.intent_id, time: 1 }));
            } catch (err) {
              this.step(c, 'stop', errOf(err));
            }
          }
          c.received = { kind: 'result', result: await this.call<DockerRunResult>(c, 'tools.docker.wait', { target: started.intent_id, timeout: 240 }) };
        };
        break;
      }
      case 'run_keep_remove':
        c = this.newCaller(op, 'tool', { stdout: `out-${k}\n`, stderr: `err-${k}\n`, exit_code: 0 });
        work = async () => {
          c.received = { kind: 'result', result: await this.runTool(c, { command: ['sh', '-c', body(0, '')], auto_remove: false }) };
          try {
            this.step(c, 'remove', await this.call(c, 'tools.docker.remove', { target: c.intent_id }));
          } catch (err) {
            this.step(c, 'remove', errOf(err));
          }
        };
        break;
      case 'cross_tenant': {
        // Another tenant's intent (one that exists) is "not found" to this caller, and stays untouched.
        const victim = this.rng.pick(this.callers.filter((x) => x.intent_id && x.via === 'tool')) as Caller | undefined;
        c = this.newCaller(op, 'tool', {});
        work = async () => {
          c.received = { kind: 'probe' };
          if (!victim?.intent_id) return;
          if (victim.tenant === c.tenant) c.tenant = this.world.tenants.find((t) => t !== victim.tenant)!;
          this.step(c, 'victim', { intent_id: victim.intent_id, tenant: victim.tenant });
          for (const tool of ['tools.docker.inspect', 'tools.docker.stop']) {
            try {
              this.step(c, tool, { kind: 'answered', got: await this.call(c, tool, { target: victim.intent_id }) });
            } catch (err) {
              this.step(c, tool, errOf(err));
            }
          }
        };
        break;
      }
      case 'cli_run':
      case 'cli_worker': {
        // cli_run: a short run to its end; cli_worker: a long one, a worker the nemesis may kill or freeze.
        const exit = op === 'cli_run' ? this.rng.int(0, 3) : 0;
        const sleep = op === 'cli_run' ? this.rng.pick(['', 'sleep 1; ']) : `sleep ${this.rng.int(5, 15)}; `;
        c = this.newCaller(op, 'cli', { stdout: `out-${k}\n`, stderr: `err-${k}\n`, exit_code: exit });
        work = async () => {
          const proc = spawnCli(
            ['run', '--json', '--tenant', c.tenant, '--workflow-run', c.workflow_run_id, '--activity', c.activity_id, TEST_IMAGE, 'sh', '-c', body(exit, sleep)],
            { databaseUrl: this.world.databaseUrl, reconcilerId: `soak-cli-${c.n}`, env: { HIGHWAY_WORKER_TIMEOUT_S: String(WORKER_TIMEOUT_S), HIGHWAY_LOG_LEVEL: 'warn' } },
          );
          c.proc = proc;
          const bound = 300_000;
          const exited = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), bound))]);
          let result: DockerRunResult | null = null;
          try {
            result = parseRunResult(proc) as unknown as DockerRunResult;
          } catch {
            result = null;
          }
          if (exited === null) {
            this.step(c, 'hang', { after_ms: bound });
            await proc.kill();
          }
          c.received = { kind: 'cli', exit: exited?.code ?? null, signal: exited?.signal ?? null, result, stderr: proc.stderr.slice(-2000) };
          const row = await this.world.pool.query<{ id: string }>('SELECT id FROM highway.docker_containers WHERE activity_id = $1', [c.activity_id]).catch(() => null);
          c.intent_id = row?.rows[0]?.id ?? result?.intent_id ?? null;
        };
        break;
      }
    }
    c.done = (async () => {
      try {
        await work();
      } catch (err) {
        c.received ??= errOf(err);
        if (!c.intent_id) {
          const row = await this.world.pool.query<{ id: string }>('SELECT id FROM highway.docker_containers WHERE activity_id = $1', [c.activity_id]).catch(() => null);
          c.intent_id = row?.rows[0]?.id ?? null;
        }
      } finally {
        c.ended_at = new Date().toISOString();
      }
    })();
    this.log(`#${c.n} ${c.op} ${c.tenant}`);
  }
}
