-- highway-docker: the tracking table of intents and containers, and the engine's side it watches.
-- Applied once, in one transaction, by src/db/migrate.ts.

CREATE SCHEMA IF NOT EXISTS highway;

-- ---------------------------------------------------------------------------
-- The engine's side (minimal tables that Highway's own can replace).
-- ---------------------------------------------------------------------------
CREATE TABLE highway.workflow_runs (
  id          uuid PRIMARY KEY,
  tenant_id   text NOT NULL,
  status      text NOT NULL DEFAULT 'running',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE highway.activities (
  id                   uuid PRIMARY KEY,
  workflow_run_id      uuid NOT NULL,
  status               text NOT NULL DEFAULT 'running',
  heartbeat_at         timestamptz,
  heartbeat_timeout_s  integer CHECK (heartbeat_timeout_s IS NULL OR heartbeat_timeout_s > 0),
  created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activities_workflow_run_idx ON highway.activities (workflow_run_id);

CREATE TABLE highway.workers (
  id            text PRIMARY KEY,
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  status        text NOT NULL DEFAULT 'alive',
  started_at    timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Intents and their containers.
-- ---------------------------------------------------------------------------
CREATE TABLE highway.docker_containers (
  id                  uuid PRIMARY KEY,                 -- the intent id; the container is named highway-<id>
  container_id        text UNIQUE,                      -- null until created
  short_id            text,
  activity_id         uuid NOT NULL,
  workflow_run_id     uuid NOT NULL,
  tenant_id           text NOT NULL,
  worker_id           text,
  reconciler_id       text,                             -- the reconciler (Docker host) that claimed the intent
  image               text NOT NULL,
  spec                jsonb NOT NULL,                   -- validated parameters; secret references, never values
  status              text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'pulling', 'created', 'running', 'stopping',
                      'exited', 'failed', 'timeout', 'cancelled', 'lost')),
  desired_state       text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped')),
  stop_reason         text CHECK (stop_reason IS NULL OR stop_reason IN (
                        'workflow_cancelled', 'activity_timeout', 'activity_gone', 'worker_lost',
                        'worker_shutdown', 'requested', 'stale')),
  stop_requested_at   timestamptz,
  error               text,
  exit_code           integer,
  oom_killed          boolean,
  stdout              text,
  stderr              text,
  logs_truncated      boolean NOT NULL DEFAULT false,
  duration_ms         integer,
  warnings            jsonb NOT NULL DEFAULT '[]',
  labels              jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  removed_at          timestamptz,
  deadline_at         timestamptz,
  gc_protected_until  timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One intent per activity: a retried activity re-attaches, it never starts a second container.
CREATE UNIQUE INDEX docker_containers_activity_uq ON highway.docker_containers (activity_id);
-- Live intents (not yet removed), the reconciler's working set.
CREATE INDEX docker_containers_live_idx ON highway.docker_containers (reconciler_id) WHERE removed_at IS NULL;
CREATE INDEX docker_containers_run_idx ON highway.docker_containers (workflow_run_id) WHERE removed_at IS NULL;
CREATE INDEX docker_containers_worker_idx ON highway.docker_containers (worker_id) WHERE removed_at IS NULL;

-- ---------------------------------------------------------------------------
-- Append-only audit trail of every operation and denial.
-- ---------------------------------------------------------------------------
CREATE TABLE highway.docker_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  tenant_id   text,
  actor       text,          -- worker id, reconciler id or cli
  intent_id   uuid,
  operation   text NOT NULL, -- run, stop, remove, ..., reconcile actions
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX docker_audit_intent_idx ON highway.docker_audit (intent_id);

CREATE FUNCTION highway.docker_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'highway.docker_audit is append-only';
END $$;
CREATE TRIGGER docker_audit_append_only BEFORE UPDATE OR DELETE ON highway.docker_audit
  FOR EACH ROW EXECUTE FUNCTION highway.docker_audit_append_only();

-- ---------------------------------------------------------------------------
-- NOTIFY triggers. Payloads are keys only: listeners always re-read the rows.
--   highway_docker_intent   intent id   a new intent, or its desired state changed  -> reconciler
--   highway_docker_done     intent id   status or removal changed                    -> waiting callers
--   highway_workflow_run    run id      status changed                               -> reconciler
--   highway_activity        activity id status / heartbeat timeout changed, deleted  -> reconciler
--   highway_worker          worker id   status changed, deleted                      -> reconciler
-- ---------------------------------------------------------------------------
CREATE FUNCTION highway.notify_docker_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.desired_state IS DISTINCT FROM OLD.desired_state THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.removed_at IS DISTINCT FROM OLD.removed_at) THEN
    PERFORM pg_notify('highway_docker_done', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_containers_notify AFTER INSERT OR UPDATE ON highway.docker_containers
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_intent();

CREATE FUNCTION highway.notify_workflow_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('highway_workflow_run', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER workflow_runs_notify AFTER UPDATE ON highway.workflow_runs
  FOR EACH ROW EXECUTE FUNCTION highway.notify_workflow_run();

CREATE FUNCTION highway.notify_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('highway_activity', OLD.id::text);
  ELSIF NEW.status IS DISTINCT FROM OLD.status
     OR NEW.heartbeat_timeout_s IS DISTINCT FROM OLD.heartbeat_timeout_s THEN
    PERFORM pg_notify('highway_activity', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER activities_notify AFTER UPDATE OR DELETE ON highway.activities
  FOR EACH ROW EXECUTE FUNCTION highway.notify_activity();

CREATE FUNCTION highway.notify_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('highway_worker', OLD.id);
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('highway_worker', NEW.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER workers_notify AFTER UPDATE OR DELETE ON highway.workers
  FOR EACH ROW EXECUTE FUNCTION highway.notify_worker();
