/**
 * One running highway-docker for an integration test file: a fresh database, a reconciler
 * with its own id (every container it makes carries `highway.reconciler_id=<that id>`,
 * the label the cleanup removes by), the tools on a registry, and a log capture.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { pino, type Logger } from 'pino';
import { createDockerClient, type ContainerClient } from '../../src/docker/client.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler.js';
import { ToolRegistry, type ActivityContext } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { getIntent } from '../../src/db/queries/get-intent.js';
import { isSettled } from '../../src/tools/docker-run.js';
import type { IntentRow } from '../../src/model.js';
import { LABELS, TERMINAL_STATUSES } from '../../src/model.js';
import { defaultPolicy, type Policy } from '../../src/params/policy.js';
import { connectDocker, removeByLabel } from './docker-env.js';
import { ensureTestImage, TEST_IMAGE } from './test-image.js';
import { freshDatabase, type TestDatabase } from './postgres.js';
import { eventually } from './eventually.js';

export { TEST_IMAGE };

/** Structured log lines captured in memory, for asserting the event log. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  constructor(level = process.env['TEST_LOG_LEVEL'] ?? 'debug') {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
        cb();
      },
    });
    this.logger = pino({ level }, sink);
  }
  events(name: string, intentId?: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['event'] === name && (!intentId || l['intent_id'] === intentId));
  }
}

export interface HarnessOptions {
  policy?: Policy;
  reconciler?: Partial<ReconcilerOptions>;
  /** Do not start a reconciler (the test starts its own, e.g. to crash it). */
  withoutReconciler?: boolean;
  /** Log level of the capture (default TEST_LOG_LEVEL or debug; load tests use info: parsing every debug line costs CPU). */
  logLevel?: string;
}

export class Harness {
  readonly registry = new ToolRegistry();
  readonly tools: DockerTools;
  readonly reconcilerId = `test-${randomUUID()}`;
  readonly log: LogCapture;
  readonly client: ContainerClient;
  reconciler: Reconciler | null = null;

  private constructor(
    readonly db: TestDatabase,
    readonly docker: Docker,
    private readonly options: HarnessOptions,
  ) {
    this.log = new LogCapture(options.logLevel);
    this.client = createDockerClient({ logger: this.log.logger, docker });
    this.tools = registerDockerTools(this.registry, {
      databaseUrl: db.url,
      pool: db.pool,
      logger: this.log.logger,
      policy: options.policy ?? defaultPolicy,
    });
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const docker = await connectDocker();
    await ensureTestImage(docker);
    const db = await freshDatabase();
    const h = new Harness(db, docker, options);
    if (!options.withoutReconciler) await h.startReconciler();
    return h;
  }

  /** The label every container of this harness carries. */
  get label(): string {
    return `${LABELS.reconcilerId}=${this.reconcilerId}`;
  }

  async startReconciler(extra: Partial<ReconcilerOptions> = {}): Promise<Reconciler> {
    this.reconciler = await Reconciler.create({
      pool: this.db.pool,
      databaseUrl: this.db.url,
      docker: this.client,
      logger: this.log.logger,
      reconcilerId: this.reconcilerId,
      resyncIntervalMs: 5_000,
      policy: this.options.policy ?? defaultPolicy,
      ...this.options.reconciler,
      ...extra,
    });
    await this.reconciler.start();
    return this.reconciler;
  }

  async stopReconciler(): Promise<void> {
    await this.reconciler?.stop();
    this.reconciler = null;
  }

  /** A fresh activity context (new run and activity ids). */
  ctx(overrides: Partial<ActivityContext> = {}): ActivityContext {
    return { tenant_id: 'tenant-a', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null, ...overrides };
  }

  run(params: Record<string, unknown>, ctx: ActivityContext = this.ctx()): Promise<DockerRunResult> {
    return this.registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, ...params }, ctx);
  }

  intent(id: string): Promise<IntentRow | null> {
    return getIntent(this.db.pool, id);
  }

  async intentOfActivity(activityId: string): Promise<IntentRow | null> {
    const res = await this.db.pool.query<IntentRow>('SELECT * FROM highway.docker_containers WHERE activity_id = $1', [activityId]);
    return res.rows[0] ?? null;
  }

  /** Poll (for tests only) until the intent of an activity satisfies `until`. */
  async waitFor(activityId: string, until: (row: IntentRow) => boolean, timeoutMs = 30_000): Promise<IntentRow> {
    return eventually(() => this.intentOfActivity(activityId), {
      what: `the intent of activity ${activityId}`,
      timeoutMs,
      until: (row) => row !== null && until(row),
      describe: (row) => (row ? `status ${row.status}` : 'no row'),
    }) as Promise<IntentRow>;
  }

  waitSettled(activityId: string, timeoutMs?: number): Promise<IntentRow> {
    return this.waitFor(activityId, (r) => isSettled(r), timeoutMs);
  }

  /** Is the container gone from the daemon? */
  async containerGone(id: string | null): Promise<boolean> {
    if (!id) return true;
    try {
      await this.docker.getContainer(id).inspect();
      return false;
    } catch (err) {
      return (err as { statusCode?: number }).statusCode === 404;
    }
  }

  /**
   * Between the tests of a file that share this harness, with no reconciler running: end every
   * intent still live (a test that failed midway left it), so it can not act in the next test.
   * A no-op after a test that passed: each asserts its own intents ended. Returns how many it ended.
   */
  async endLeftovers(): Promise<number> {
    const res = await this.db.pool.query(
      `UPDATE highway.docker_containers
          SET status = 'cancelled', desired_state = 'stopped', stop_reason = 'requested', error = 'ended by the test harness after a failed test',
              finished_at = now(), removed_at = now(), updated_at = now()
        WHERE NOT (status = ANY($1::text[]))`,
      [[...TERMINAL_STATUSES]],
    );
    return res.rowCount ?? 0;
  }

  /** Containers of this harness that still exist. */
  async containers(): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [this.label] } });
  }

  async stop(): Promise<void> {
    await this.stopReconciler().catch(() => {});
    await this.tools.close().catch(() => {});
    await removeByLabel(this.docker, this.label).catch(() => {});
    await this.db.drop().catch(() => {});
  }
}
