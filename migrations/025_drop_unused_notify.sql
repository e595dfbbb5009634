-- The `highway_host` NOTIFY had no listener (the leader reads hosts on its own passes, `hosts` reads the table):
-- one NOTIFY fewer on every registration and graceful stop.
DROP TRIGGER IF EXISTS hosts_notify ON highway.hosts;
DROP FUNCTION IF EXISTS highway.notify_host();
