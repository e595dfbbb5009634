/** highway-docker's library API. */
export { ToolRegistry, type ActivityContext, type Tool, type ToolResults } from './tools/registry.js';
export { registerDockerTools, type DockerTools, type DockerToolsOptions } from './tools/docker-tools.js';
export type { DockerRunResult } from './tools/docker-run.js';
export type { DockerPullResult, HostPullResult } from './tools/docker-pull.js';
export type { DockerImagesResult, ImageInfo } from './tools/docker-images.js';
export { Reconciler, envSecretResolver, type ReconcilerOptions } from './reconciler.js';
export type { SecretOwner, SecretResolver } from './secrets.js';
export { DockerGarbageCollector, type GcOptions, type SweepReport } from './gc/collector.js';
export { runKinds, type RunningKinds } from './runtime/periodic.js'; // e.g. runKinds([gc.kind()], logger): the GC without a Host
export { createDockerClient, type ContainerClient } from './docker/client.js';
export { createPool } from './db/pool.js';
export { migrate } from './db/migrate.js';
export { createLogger } from './observability/logger.js';
export { parseRunParams, type RunSpec, type RunParamsInput } from './params/schema.js';
export { defaultPolicy, loadPolicy, checkPolicy, type Policy } from './params/policy.js';
export { HighwayError, ValidationError, PolicyError, TerminalError, type ErrorCode } from './errors.js';
export { INTENT_STATUSES, STOP_REASONS, LABELS, type IntentStatus, type StopReason, type IntentRow } from './model.js';
export { readClusterId } from './db/queries/cluster.js';
export { OPERATIONS, type OperationKind, type OperationResult } from './operations/registry.js';
export { defineOperation, type OperationDefinition } from './operations/definition.js';
export { Host, createHost, StartupError, type HostOptions } from './host.js';
export { Engine, createEngine, ACTIVITY_END_STATUSES, type EngineOptions, type ActivityRow, type ActivityEndStatus } from './engine/engine.js';
export { createScheduleApi, type ScheduleApi, type ScheduleApiOptions, type ScheduleRow, type TickView, type BackfillResult, type ScheduleInput, type OverlapPolicy } from './engine/schedules.js';
export type { ExecResult, LogsResult, LogLineResult, InspectResult, RemoveResult, CallerContext } from './tools/docker-ops.js';
export type { DurableCronResult } from './tools/cron-tools.js';
