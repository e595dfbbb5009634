-- Truthful output: when the Docker daemon went away while a container ran (it may have
-- restarted; without live-restore the output written meanwhile is lost), the intent records
-- it, and its result says so (logs_truncated and a warning naming why).
ALTER TABLE highway.docker_containers ADD COLUMN output_interrupted_at timestamptz;
