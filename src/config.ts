/** Settings, from the environment (the command line may override them). */
export interface Settings {
  databaseUrl: string | undefined;
  workerTimeoutS: number;
  gcIntervalS: number;
  gcCreationGraceS: number;
  staleMaxAgeS: number;
  policyFile: string | undefined;
  reconcilerId: string | undefined;
  /** Ended intents older than this many days are deleted by the cluster's leader (HIGHWAY_RETENTION_DAYS). */
  retentionDays: number;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${raw}" is not a positive number of seconds`);
  return n;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    databaseUrl: env['DATABASE_URL'] || undefined,
    workerTimeoutS: positive(env, 'HIGHWAY_WORKER_TIMEOUT_S', 30),
    gcIntervalS: positive(env, 'HIGHWAY_GC_INTERVAL_S', 60),
    gcCreationGraceS: positive(env, 'HIGHWAY_GC_CREATION_GRACE_S', 60),
    staleMaxAgeS: positive(env, 'HIGHWAY_STALE_MAX_AGE_S', 24 * 3600),
    policyFile: env['HIGHWAY_POLICY_FILE'] || undefined,
    reconcilerId: env['HIGHWAY_RECONCILER_ID'] || undefined,
    retentionDays: positive(env, 'HIGHWAY_RETENTION_DAYS', 30),
  };
}
