-- Many hosts on one database: placement, capacity, failover.
-- An unclaimed intent waits for a live host that matches its placement and has room; why it
-- waits is visible (ps, inspect, and the error if it ends).
ALTER TABLE highway.docker_containers ADD COLUMN pending_reason text;

-- The claim: unclaimed pending intents, oldest first.
CREATE INDEX docker_containers_unclaimed_idx ON highway.docker_containers (created_at)
  WHERE reconciler_id IS NULL AND removed_at IS NULL;
