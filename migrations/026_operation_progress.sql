-- An operation done in two steps (an exec with result_path: the exec, then reading its file)
-- records what its first step gave here, while the row is still `running`: the Docker exec's
-- id when it starts, then its outcome (exit code, output) when it ends, before the file is
-- read. A reconciler that dies in between loses nothing: the next one finds the row running,
-- reads the file, and records the outcome with it (src/operations/exec.ts, recover).
ALTER TABLE highway.docker_operations ADD COLUMN progress jsonb;
