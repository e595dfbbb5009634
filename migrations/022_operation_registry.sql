-- The kinds of operations on a container follow from the registry in the code
-- (src/operations/registry.ts) instead of a CHECK listing them: a table of kinds, filled from
-- the registry at migrate time (after the files run), and a foreign key to it. Adding a tool
-- then needs no migration; a row of an unknown kind is still refused by the database.
CREATE TABLE highway.docker_operation_kinds (
  name        text PRIMARY KEY,
  tool        text NOT NULL,            -- the tool, and its audit operation (tools.docker.<name>)
  rerun_safe  boolean NOT NULL,         -- performed again when found running after a crash
  added_at    timestamptz NOT NULL DEFAULT now()
);
-- The kinds the CHECK allowed, so existing rows hold before the first sync.
INSERT INTO highway.docker_operation_kinds (name, tool, rerun_safe) VALUES
  ('exec', 'tools.docker.exec', false),
  ('logs', 'tools.docker.logs', true),
  ('inspect', 'tools.docker.inspect', true);

ALTER TABLE highway.docker_operations DROP CONSTRAINT docker_operations_kind_check;
ALTER TABLE highway.docker_operations ADD CONSTRAINT docker_operations_kind_fkey
  FOREIGN KEY (kind) REFERENCES highway.docker_operation_kinds (name);
