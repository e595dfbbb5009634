-- Clusters that share a Docker daemon (two databases, one daemon): each database has an
-- identity, made once here. Every container carries it as the label `highway.cluster_id`;
-- the GC, the events filter and every sweep judge only containers of their own cluster.
CREATE TABLE highway.cluster (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),   -- one row, ever
  id          text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO highway.cluster (id) VALUES (gen_random_uuid()::text);

-- The identity never changes: a changed id would orphan every container of the cluster.
CREATE FUNCTION highway.cluster_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'highway.cluster is written once, at migrate time: its id labels every container of this cluster';
END $$;
CREATE TRIGGER cluster_immutable BEFORE UPDATE OR DELETE ON highway.cluster
  FOR EACH ROW EXECUTE FUNCTION highway.cluster_immutable();
CREATE TRIGGER cluster_no_truncate BEFORE TRUNCATE ON highway.cluster
  FOR EACH STATEMENT EXECUTE FUNCTION highway.cluster_immutable();

-- Liveness is the host's own: it records its timeout (HIGHWAY_HOST_TIMEOUT_S) in its row and
-- every reader judges `heartbeat_at + timeout_s > now()` (rows written before this migration:
-- the reader's own setting).
ALTER TABLE highway.hosts ADD COLUMN timeout_s double precision CHECK (timeout_s IS NULL OR timeout_s > 0);

-- A host whose Docker daemon does not answer says so (it claims nothing meanwhile); the
-- leader's pending reasons name it.
ALTER TABLE highway.hosts ADD COLUMN docker_unreachable_since timestamptz,
                          ADD COLUMN docker_error text;

-- A container its Docker daemon killed as it shut down (a daemon restart): `lost` with
-- stop_reason `daemon_restart`, so an engine tells it from the program's own failure.
ALTER TABLE highway.docker_containers DROP CONSTRAINT docker_containers_stop_reason_check;
ALTER TABLE highway.docker_containers ADD CONSTRAINT docker_containers_stop_reason_check
  CHECK (stop_reason IS NULL OR stop_reason IN (
    'workflow_cancelled', 'activity_timeout', 'activity_gone', 'worker_lost',
    'worker_shutdown', 'requested', 'stale', 'daemon_restart'));
