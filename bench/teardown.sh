#!/usr/bin/env bash
# Undoes what bench/setup.sh started or mounted, and nothing else, as root:
#  - removes images the benchmarks left behind (dockyard-bench/*) from docker and podman;
#  - stops a dockyardd that an interrupted bench/run left running (by the PID in its pidfile,
#    /var/tmp/dockyard-bench/run-*/*/dockyardd.pid), unmounts what is left under those run
#    directories and removes them. Do not run this while bench/run is running;
#  - stops the dockerd that setup.sh started (its PID is in /tmp/dockyard-bench/dockerd.pid;
#    dockerd stops the containerd it started itself); a dockerd started otherwise is left alone;
#  - unmounts the hugetlb v1 hierarchy if setup.sh mounted it.
# Usage: teardown.sh [--keep-dockerd]
set -euo pipefail

STATE=/tmp/dockyard-bench
WORK=/var/tmp/dockyard-bench
DOCKER=${BENCH_DOCKER:-$( [ -x /usr/local/bin/docker ] && echo /usr/local/bin/docker || echo docker )}
keep_dockerd=0
[ "${1:-}" = --keep-dockerd ] && keep_dockerd=1

log() { echo "teardown: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "teardown: must run as root" >&2; exit 1; }

remove_bench_images() {
  local ids
  if "$DOCKER" version >/dev/null 2>&1; then
    ids=$("$DOCKER" images --quiet --filter 'reference=dockyard-bench/*' | sort -u)
    [ -z "$ids" ] || { log "docker: removing leftover images"; "$DOCKER" rmi --force $ids >/dev/null; }
  fi
  if command -v podman >/dev/null; then
    ids=$(podman images --quiet --filter 'reference=localhost/dockyard-bench/*' | sort -u)
    [ -z "$ids" ] || { log "podman: removing leftover images"; podman rmi --force $ids >/dev/null; }
  fi
}

stop_leftover_dockyardd() {
  local pidfile pid dir i point
  for pidfile in "$WORK"/run-*/*/dockyardd.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    dir=$(dirname "$pidfile")
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "dockyardd -H unix://$dir/" || continue
    log "dockyardd: stopping leftover pid $pid ($dir)"
    kill -TERM "$pid"
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && { log "dockyardd: pid $pid still running after 30 s"; return 1; }
  done
  for dir in "$WORK"/run-*; do
    [ -d "$dir" ] || continue
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r point; do umount -l "$point"; done
    rm -rf "$dir"
    log "removed leftover $dir"
  done
}

stop_dockerd() {
  local pidfile=$STATE/dockerd.pid pid i
  [ -f "$pidfile" ] || { log "dockerd: not started by setup.sh, left alone"; return; }
  pid=$(cat "$pidfile")
  if [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" != /usr/sbin/dockerd ]; then
    log "dockerd: pid $pid is gone (or is no longer dockerd)"
    rm -f "$pidfile"
    return
  fi
  log "dockerd: stopping pid $pid"
  kill -TERM "$pid"
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd: pid $pid still running after 30 s; left running"
    return 1
  fi
  rm -f "$pidfile"
}

undo_hugetlb() {
  local target=/sys/fs/cgroup/hugetlb
  [ -f "$STATE/hugetlb.mounted" ] || return 0
  if mountpoint -q "$target"; then
    umount "$target"
    log "crun: unmounted $target"
  fi
  rm -f "$STATE/hugetlb.mounted"
  if [ -f "$STATE/hugetlb.dir-made" ]; then
    rmdir "$target" 2>/dev/null || true
    rm -f "$STATE/hugetlb.dir-made"
  fi
}

status=0
remove_bench_images || status=1
stop_leftover_dockyardd || status=1
if [ "$keep_dockerd" = 1 ]; then
  log "dockerd: kept running (--keep-dockerd)"
else
  stop_dockerd || status=1
fi
undo_hugetlb || status=1
[ "$status" = 0 ] && log "ok" || log "done, with errors"
exit "$status"
