-- Many Docker hosts on one database: every reconciler registers itself and heartbeats.
-- A host is alive while its heartbeat is younger than HIGHWAY_HOST_TIMEOUT_S and it has not
-- stopped; liveness is computed by the readers (src/db/queries/hosts.ts), never stored.

CREATE TABLE highway.hosts (
  id              text PRIMARY KEY,                -- the reconciler id (HIGHWAY_RECONCILER_ID, else the daemon id)
  hostname        text NOT NULL,
  docker_id       text,                            -- null while the daemon has not answered
  docker_version  text,
  labels          jsonb NOT NULL DEFAULT '{}',     -- HIGHWAY_HOST_LABELS, for placement
  capacity        integer CHECK (capacity IS NULL OR capacity > 0),  -- HIGHWAY_MAX_CONTAINERS; null = unbounded
  started_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at    timestamptz NOT NULL DEFAULT now(),
  stopped_at      timestamptz                      -- set on a graceful stop; cleared when it starts again
);
-- Hosts that did not stop gracefully, oldest heartbeat first (failover looks for these).
CREATE INDEX hosts_heartbeat_idx ON highway.hosts (heartbeat_at) WHERE stopped_at IS NULL;

-- `running` of a host: its intents that hold (or are about to hold) a container.
CREATE INDEX docker_containers_active_host_idx ON highway.docker_containers (reconciler_id)
  WHERE status IN ('pulling', 'created', 'running', 'stopping');
-- Retention: ended intents by removal time.
CREATE INDEX docker_containers_removed_at_idx ON highway.docker_containers (removed_at)
  WHERE removed_at IS NOT NULL;

-- highway_host  host id  a host registered, started again, or stopped gracefully (not on heartbeats).
CREATE FUNCTION highway.notify_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT'
     OR NEW.started_at IS DISTINCT FROM OLD.started_at
     OR NEW.stopped_at IS DISTINCT FROM OLD.stopped_at THEN
    PERFORM pg_notify('highway_host', NEW.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER hosts_notify AFTER INSERT OR UPDATE ON highway.hosts
  FOR EACH ROW EXECUTE FUNCTION highway.notify_host();
