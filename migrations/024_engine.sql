-- A stable, machine-readable code next to an intent's free-text error (docs/library.md lists them):
-- the row's `error_code`, the result's `error_code` and the log line's `code` say the same.
ALTER TABLE highway.docker_containers ADD COLUMN error_code text;

-- Rows that ended before this column existed get the code their status and stop reason imply.
UPDATE highway.docker_containers SET error_code = CASE
    WHEN status = 'timeout' THEN 'timeout'
    WHEN stop_reason = 'daemon_restart' THEN 'daemon_restarted'
    WHEN status = 'lost' AND error LIKE 'host %' THEN 'host_lost'
    WHEN status = 'lost' THEN 'container_lost'
    WHEN status = 'failed' AND oom_killed THEN 'oom_killed'
    WHEN status = 'failed' AND error LIKE 'placement_timeout:%' THEN 'placement_timeout'
    WHEN status = 'failed' AND exit_code IS NOT NULL AND exit_code <> 0 THEN 'nonzero_exit'
    WHEN status = 'failed' THEN 'internal'
    ELSE 'internal' END
  WHERE error IS NOT NULL AND error_code IS NULL;
