#!/usr/bin/env bash
# Stop the dockerd that scripts/ci/setup.sh started, and only that one: the PID
# comes from $HIGHWAY_CI_STATE_DIR/dockerd.pid, which setup.sh writes only when
# it started the daemon itself. Does nothing when there is no such file.
set -euo pipefail

STATE_DIR=${HIGHWAY_CI_STATE_DIR:-/tmp/highway-ci}
DOCKERD_PIDFILE="$STATE_DIR/dockerd.pid"
STOP_WAIT_SECONDS=${HIGHWAY_DOCKERD_STOP_SECONDS:-30}

log() { printf '[stop-dockerd] %s\n' "$*"; }

if [[ ! -s $DOCKERD_PIDFILE ]]; then
  log "no dockerd started by setup.sh recorded in $DOCKERD_PIDFILE; nothing to stop"
  exit 0
fi

# Alive = has a /proc entry and is not a zombie waiting to be reaped.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

pid=$(cat "$DOCKERD_PIDFILE")
if ! [[ $pid =~ ^[0-9]+$ ]] || ! running "$pid"; then
  log "recorded dockerd pid '${pid}' is not running"
  rm -f "$DOCKERD_PIDFILE"
  exit 0
fi
if [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) != dockerd ]]; then
  log "pid $pid is no longer dockerd (pid reused); leaving it alone"
  rm -f "$DOCKERD_PIDFILE"
  exit 0
fi

signal() {
  if [[ $(id -u) -eq 0 ]]; then kill "-$1" "$pid"; else sudo -n kill "-$1" "$pid"; fi
}

# SIGTERM: dockerd stops its containers (up to its 15 s shutdown timeout) and
# the containerd it supervises, then exits.
log "stopping dockerd (pid $pid) with SIGTERM"
signal TERM 2>/dev/null || true
deadline=$((SECONDS + STOP_WAIT_SECONDS))
while running "$pid" && ((SECONDS < deadline)); do
  sleep 0.2
done
if running "$pid"; then
  log "dockerd (pid $pid) still running after ${STOP_WAIT_SECONDS}s; sending SIGKILL"
  signal KILL 2>/dev/null || true
  sleep 1
fi
rm -f "$DOCKERD_PIDFILE"
log "dockerd (pid $pid) stopped"
