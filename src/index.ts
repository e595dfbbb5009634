/** highway-docker's library API. */
export { ToolRegistry, type ActivityContext, type Tool } from './tools/registry.js';
export { registerDockerTools, type DockerTools, type DockerToolsOptions } from './tools/docker-tools.js';
export type { DockerRunResult } from './tools/docker-run.js';
export type { DockerPullResult, HostPullResult } from './tools/docker-pull.js';
export type { DockerImagesResult, ImageInfo } from './tools/docker-images.js';
export { Reconciler, envSecretResolver, type ReconcilerOptions } from './reconciler.js';
export type { SecretOwner, SecretResolver } from './secrets.js';
export { DockerGarbageCollector, type GcOptions, type SweepReport } from './gc/collector.js';
export { createDockerClient, type ContainerClient } from './docker/client.js';
export { createPool } from './db/pool.js';
export { migrate } from './db/migrate.js';
export { createLogger } from './observability/logger.js';
export { parseRunParams, type RunSpec, type RunParamsInput } from './params/schema.js';
export { defaultPolicy, loadPolicy, checkPolicy, type Policy } from './params/policy.js';
export { HighwayError, ValidationError, PolicyError, TerminalError, type ErrorCode } from './errors.js';
export { INTENT_STATUSES, STOP_REASONS, LABELS, type IntentStatus, type StopReason, type IntentRow } from './model.js';
export { readClusterId } from './db/queries/cluster.js';
export { Host, createHost, StartupError, type HostOptions } from './host.js';
