-- The image inventory of each Docker host, and image pull requests.
--
-- highway.docker_images: kept by each host's reconciler (the `images` kind) from Docker's image
-- events plus a relist; tools.docker.images reads it and never waits on Docker. Images belong
-- to a host, not to a tenant: every tenant sees the same inventory.
CREATE TABLE highway.docker_images (
  reconciler_id  text NOT NULL,                    -- the host (its reconciler)
  image_id       text NOT NULL,                    -- sha256:...
  repo_tags      text[] NOT NULL DEFAULT '{}',
  repo_digests   text[] NOT NULL DEFAULT '{}',
  size           bigint NOT NULL DEFAULT 0,
  created        timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (reconciler_id, image_id)
);

-- highway.docker_pulls: one row per (request, host), reconciled by that host's `pulls` kind.
-- Rows of one image on one host that are live together share one Docker pull.
-- registry_auth is the NAME of a secret (resolved on the reconciler), never its value.
CREATE TABLE highway.docker_pulls (
  id             uuid PRIMARY KEY,
  tenant_id      text NOT NULL,
  image          text NOT NULL,
  reconciler_id  text NOT NULL,
  registry_auth  text,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  digest         text,
  duration_ms    integer,
  error          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  finished_at    timestamptz
);
CREATE INDEX docker_pulls_live_idx ON highway.docker_pulls (reconciler_id, image) WHERE status IN ('pending', 'running');

-- NOTIFY (payloads are keys only: listeners re-read the rows)
--   highway_docker_pull        pull id   a new pull request        -> the host's reconciler
--   highway_docker_pull_done   pull id   the pull ended            -> waiting callers
CREATE FUNCTION highway.notify_docker_pull() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('highway_docker_pull', NEW.id::text);
  ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('done', 'failed') THEN
    PERFORM pg_notify('highway_docker_pull_done', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_pulls_notify AFTER INSERT OR UPDATE ON highway.docker_pulls
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_pull();
