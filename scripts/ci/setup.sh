#!/usr/bin/env bash
# Prepare a machine for highway-docker's tests: install the Debian packages the
# suite needs and make sure a Docker daemon answers. Idempotent: safe to run
# again on a machine that already has everything (it then changes nothing).
#
#   bash scripts/ci/setup.sh           install what is missing, start dockerd if needed
#   bash scripts/ci/stop-dockerd.sh    stop the dockerd that this script started (if any)
#
# The daemon is started exactly as
#   dockerd --bridge=none --iptables=false --ip6tables=false
# (no docker0 bridge, no private-range addresses, no iptables rules). Its PID is
# written to $HIGHWAY_CI_STATE_DIR/dockerd.pid ONLY when this script started it,
# so a stop never touches a daemon somebody else runs.
set -euo pipefail

STATE_DIR=${HIGHWAY_CI_STATE_DIR:-/tmp/highway-ci}
DOCKERD_PIDFILE="$STATE_DIR/dockerd.pid"
DOCKERD_LOG="$STATE_DIR/dockerd.log"
DOCKERD_WAIT_SECONDS=${HIGHWAY_DOCKERD_WAIT_SECONDS:-60}
PACKAGES=(docker.io docker-registry busybox-static)

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

# ---------------------------------------------------------------- packages
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  # The binaries themselves must be there too (a half-removed package, say).
  command -v dockerd >/dev/null 2>&1 || [[ " ${missing[*]-} " == *" docker.io "* ]] || missing+=(docker.io)
  command -v docker-registry >/dev/null 2>&1 || [[ " ${missing[*]-} " == *" docker-registry "* ]] || missing+=(docker-registry)
  [[ -x /bin/busybox ]] || [[ " ${missing[*]-} " == *" busybox-static "* ]] || missing+=(busybox-static)

  if [[ ${#missing[@]} -eq 0 ]]; then
    log "packages present: ${PACKAGES[*]}"
    return
  fi
  log "installing: ${missing[*]}"

  # Keep maintainer scripts from starting services while installing: docker.io's
  # init script would start dockerd WITH the default docker0 bridge (a private
  # 172.17/16 subnet, which is not allowed here) and docker-registry's would
  # listen on :5000. A policy-rc.d that answers 101 ("action forbidden") stops
  # that. Only ours is removed afterwards; an existing one is left alone.
  local policy=/usr/sbin/policy-rc.d ours_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, written by highway-docker scripts/ci/setup.sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    ours_policy=1
  fi

  local apt_opts=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)
  local rc=0
  {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -qq update &&
    as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=l \
      apt-get "${apt_opts[@]}" -qq -y --no-install-recommends install "${missing[@]}" </dev/null
  } || rc=$?
  if [[ $ours_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
  [[ $rc -eq 0 ]] || die "apt-get failed (exit $rc) installing: ${missing[*]}"
}

# ---------------------------------------------------------------- dockerd
docker_answers() {
  timeout 10 docker info >/dev/null 2>&1
}

# /proc rather than kill -0: works for a root daemon seen from a non-root user.
# A zombie (exited, not yet reaped) counts as dead.
pid_alive() {
  [[ ${1-} =~ ^[0-9]+$ ]] || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

pid_is_dockerd() {
  [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == dockerd ]]
}

print_daemon_log() {
  if [[ -s $DOCKERD_LOG ]]; then
    printf '[setup] ---- last lines of %s ----\n' "$DOCKERD_LOG" >&2
    tail -n 40 "$DOCKERD_LOG" >&2 || true
    printf '[setup] ---- end of log ----\n' >&2
  fi
}

wait_for_docker() {
  local pid=${1-} deadline=$((SECONDS + DOCKERD_WAIT_SECONDS))
  while ! docker_answers; do
    if [[ -n $pid ]] && ! pid_alive "$pid"; then
      print_daemon_log
      die "dockerd (pid $pid) exited before answering 'docker info'"
    fi
    if ((SECONDS >= deadline)); then
      print_daemon_log
      die "Docker daemon did not answer 'docker info' within ${DOCKERD_WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
}

ensure_dockerd() {
  if docker_answers; then
    log "Docker daemon already answers; not starting one"
    return
  fi

  case ${DOCKER_HOST:-} in
    "" | unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
    *) die "DOCKER_HOST=$DOCKER_HOST does not answer 'docker info'; this script only starts a local dockerd on the default socket" ;;
  esac

  mkdir -p "$STATE_DIR"

  # A daemon from an earlier run of this script that is still starting up?
  if [[ -s $DOCKERD_PIDFILE ]]; then
    local old
    old=$(cat "$DOCKERD_PIDFILE")
    if pid_alive "$old" && pid_is_dockerd "$old"; then
      log "dockerd started earlier by this script (pid $old) is alive but not answering yet; waiting"
      wait_for_docker "$old"
      log "Docker daemon answers"
      return
    fi
    rm -f "$DOCKERD_PIDFILE"
  fi

  # dockerd refuses to start while /var/run/docker.pid names a live process.
  local dpf=/var/run/docker.pid
  if [[ -e $dpf ]]; then
    local named
    named=$(cat "$dpf" 2>/dev/null || true)
    if pid_alive "$named" && pid_is_dockerd "$named"; then
      log "a dockerd (pid $named, not ours) is running but not answering yet; waiting for it"
      wait_for_docker "$named"
      log "Docker daemon answers"
      return
    fi
    if pid_alive "$named"; then
      log "removing stale $dpf (pid $named is alive but is not dockerd: pid reused)"
    else
      log "removing stale $dpf (pid ${named:-?} is not alive)"
    fi
    as_root rm -f "$dpf"
  fi

  log "starting: dockerd --bridge=none --iptables=false --ip6tables=false (log: $DOCKERD_LOG)"
  : >"$DOCKERD_LOG"
  # setsid: its own session, so a terminal hang-up does not take it down. In a
  # non-interactive shell the background child is not a group leader, so setsid
  # execs dockerd in place and $! is dockerd's own PID (checked below).
  if [[ $(id -u) -eq 0 ]]; then
    setsid dockerd --bridge=none --iptables=false --ip6tables=false \
      </dev/null >>"$DOCKERD_LOG" 2>&1 &
  else
    # shellcheck disable=SC2024 # the log is meant to belong to the caller
    sudo -n setsid dockerd --bridge=none --iptables=false --ip6tables=false \
      </dev/null >>"$DOCKERD_LOG" 2>&1 &
  fi
  local pid=$!
  echo "$pid" >"$DOCKERD_PIDFILE"
  wait_for_docker "$pid"
  if ! pid_is_dockerd "$pid"; then
    # Fall back to the daemon's own pidfile if setsid (or sudo) forked.
    local real
    real=$(cat /var/run/docker.pid 2>/dev/null || true)
    if pid_alive "$real" && pid_is_dockerd "$real"; then
      pid=$real
      echo "$pid" >"$DOCKERD_PIDFILE"
    fi
  fi
  log "Docker daemon answers (dockerd pid $pid, recorded in $DOCKERD_PIDFILE)"
}

# ---------------------------------------------------------------- main
start=$SECONDS
install_packages
command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH after installing docker.io"
[[ -x /bin/busybox ]] || die "/bin/busybox missing after installing busybox-static"
ensure_dockerd

log "versions:"
printf '  docker client:   %s\n' "$(docker version --format '{{.Client.Version}} (API {{.Client.APIVersion}})' 2>/dev/null || echo '?')"
printf '  docker server:   %s\n' "$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?')"
printf '  docker info:     %s\n' "$(docker info --format 'storage={{.Driver}} cgroup={{.CgroupDriver}}/v{{.CgroupVersion}} containers={{.Containers}} images={{.Images}}' 2>/dev/null || echo '?')"
printf '  docker-registry: %s\n' "$(docker-registry --version 2>/dev/null | head -n 1 || echo '?')"
printf '  busybox:         %s\n' "$( (/bin/busybox 2>/dev/null || true) | head -n 1)"
printf '  node:            %s\n' "$(node --version 2>/dev/null || echo 'not installed')"
printf '  npm:             %s\n' "$(npm --version 2>/dev/null || echo 'not installed')"
log "done in $((SECONDS - start))s"
