#!/usr/bin/env bash
# Prepares this machine for bench/run, as root. Idempotent: run it before every session.
#  1. Debian packages for the peers and the rows (apt-get update only when one is missing).
#  2. podman: a containers.conf with default ulimits lowered below this sandbox's hard limits
#     (anchors.md workaround 2); bench/run exports CONTAINERS_CONF pointing at it.
#  3. crun: on a hybrid cgroup layout where hugetlb sits on cgroup2 (no v1 hierarchy for it),
#     crun refuses to run ("cgroups in hybrid mode not supported"); mount hugetlb as v1
#     (anchors.md workaround 1). Skipped when not needed, or with BENCH_CRUN_FIX=0.
#  4. dockerd (Debian docker.io) on its default socket, if none is running. Plain `dockerd`
#     starts its own containerd (under /var/run/docker/containerd) when no system containerd
#     listens on /run/containerd/containerd.sock. --ip-forward=false keeps the host's
#     net.ipv4.ip_forward and FORWARD policy as they are; benchmarks use loopback only.
# Everything this script starts or mounts is recorded under /tmp/dockyard-bench, so
# bench/teardown.sh undoes exactly that and nothing else.
set -euo pipefail

STATE=/tmp/dockyard-bench
DOCKER=${BENCH_DOCKER:-$( [ -x /usr/local/bin/docker ] && echo /usr/local/bin/docker || echo docker )}
APT_PACKAGES=(docker.io podman crun runc skopeo docker-registry mmdebstrap hyperfine curl wrk)

log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
mkdir -p "$STATE"

install_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "packages: all present"
    return
  fi
  log "packages: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

write_containers_conf() {
  local conf=$STATE/containers.conf nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=32768
  [ "$nproc" -gt 32768 ] && nproc=32768
  cat >"$conf.tmp" <<EOF
# Written by dockyard bench/setup.sh. As root, podman asks for RLIMIT_NOFILE=1048576 in every
# container, above this sandbox's hard limit (no CAP_SYS_RESOURCE), and crun's setrlimit fails.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
EOF
  mv -f "$conf.tmp" "$conf"
  log "podman: $conf (nofile=$nofile nproc=$nproc); bench/run exports CONTAINERS_CONF"
}

crun_hugetlb_fix() {
  local unified=/sys/fs/cgroup/unified/cgroup.controllers target=/sys/fs/cgroup/hugetlb
  if [ "${BENCH_CRUN_FIX:-1}" = 0 ]; then
    log "crun: hugetlb fix skipped (BENCH_CRUN_FIX=0)"
    return
  fi
  if mountpoint -q "$target"; then
    log "crun: hugetlb v1 already mounted at $target"
    return
  fi
  if [ ! -r "$unified" ] || ! grep -qw hugetlb "$unified"; then
    log "crun: hugetlb is not on cgroup2, nothing to do"
    return
  fi
  [ -d "$target" ] || { mkdir "$target"; touch "$STATE/hugetlb.dir-made"; }
  mount -t cgroup -o hugetlb cgroup "$target"
  touch "$STATE/hugetlb.mounted"
  log "crun: mounted hugetlb v1 at $target (hybrid cgroups); teardown.sh unmounts it"
}

docker_up() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_dockerd() {
  if docker_up; then
    log "dockerd: already running ($("$DOCKER" version --format '{{.Server.Version}}'))"
    return
  fi
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    die "a dockerd is running but not answering on /var/run/docker.sock; not starting another"
  fi
  local logf=$STATE/dockerd.log pid i
  log "dockerd: starting (log $logf)"
  setsid /usr/sbin/dockerd --ip-forward=false >>"$logf" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$STATE/dockerd.pid"
  for i in $(seq 1 120); do
    docker_up && break
    kill -0 "$pid" 2>/dev/null || die "dockerd exited; see $logf"
    sleep 0.5
  done
  docker_up || die "dockerd did not answer within 60 s; see $logf (pid $pid still running)"
  log "dockerd: running, pid $pid ($("$DOCKER" version --format '{{.Server.Version}}'))"
}

install_packages
write_containers_conf
crun_hugetlb_fix
start_dockerd
mkdir -p /var/tmp/dockyard-bench /var/cache/dockyard-bench
log "ok; now: bash bench/run [ROW...] [--runs N]"
