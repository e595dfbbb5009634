-- Operations on containers (exec, logs, inspect): each one a row reconciled by the reconciler
-- that owns the container (its host). The caller inserts a pending row and awaits its
-- completion notification; the host claims it, performs it and records the result.
-- Also: a removal request on intents (tools.docker.remove of a kept container).

CREATE TABLE highway.docker_operations (
  id             uuid PRIMARY KEY,
  tenant_id      text NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('exec', 'logs', 'inspect')),
  intent_id      uuid NOT NULL REFERENCES highway.docker_containers (id) ON DELETE CASCADE,
  reconciler_id  text NOT NULL,               -- the target intent's host: only it performs the operation
  actor          text,                        -- who asked (worker id, cli)
  params         jsonb NOT NULL,              -- validated parameters; secret references, never values
  status         text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'timeout')),
  result         jsonb,
  error          text,
  error_code     text,                        -- stable code of a failure (not_running, not_found, ...)
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  finished_at    timestamptz
);
-- Live operations per host: the reconciler's working set (its list() and resync).
CREATE INDEX docker_operations_live_idx ON highway.docker_operations (reconciler_id) WHERE status IN ('pending', 'running');
CREATE INDEX docker_operations_intent_idx ON highway.docker_operations (intent_id);

-- NOTIFY: payloads are keys only.
--   highway_docker_op       operation id            a new operation         -> its host's reconciler
--   highway_docker_op_done  "<operation id> <status>"  its status changed   -> the waiting caller
CREATE FUNCTION highway.notify_docker_operation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('highway_docker_op', NEW.id::text);
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('highway_docker_op_done', NEW.id::text || ' ' || NEW.status);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_operations_notify AFTER INSERT OR UPDATE ON highway.docker_operations
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_operation();

-- A removal request on an ended intent whose container is kept (auto_remove false, gc
-- protection): it beats both, and the reconciler removes the container (recording removed_at).
ALTER TABLE highway.docker_containers ADD COLUMN remove_requested_at timestamptz;

-- The request wakes the intent's reconciler like a change of desired state does.
CREATE FUNCTION highway.notify_docker_remove_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.remove_requested_at IS DISTINCT FROM OLD.remove_requested_at THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_containers_remove_request_notify AFTER UPDATE OF remove_requested_at ON highway.docker_containers
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_remove_request();
