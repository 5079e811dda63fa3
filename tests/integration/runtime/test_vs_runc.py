"""The behaviour suite: each probe under runc and under dockyard-runtime, outcomes equal.

Two bundles per probe (see vsrunc.py): ``runc spec``'s config and the one dockerd wrote for
``docker run busybox``. ``VS_RUNC_CANDIDATE=runc`` runs runc against itself, which checks
that every probe is deterministic (and is what runs while dockyard-runtime has no ``run``).
The probes of pause, update, events --stats, hooks and user namespaces are in vsprobes.py,
with those both runtimes run on a cgroup v2 view (``test_same_outcome_on_cgroup2``).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import vsprobes
from .vsrunc import DOCKYARD, FIXTURE, RUNC, RUNTIMES, Config, Probe, run_probe, runc_spec

pytestmark = [pytest.mark.root, pytest.mark.slow]

CANDIDATE = os.environ.get("VS_RUNC_CANDIDATE", "dockyard")
MOVE_ON = "echo ready; while :; do sleep 0.05; done"
SHARED: dict[str, Any] = {}


# --- config edits -------------------------------------------------------------------------


def edits(*changes: Callable[[Config], None]) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        for change in changes:
            change(config)

    return apply


def user(uid: int, gid: int, groups: list[int] | None = None, umask: int | None = None):
    def change(config: Config) -> None:
        config["process"]["user"] = {"uid": uid, "gid": gid}
        if groups is not None:
            config["process"]["user"]["additionalGids"] = groups
        if umask is not None:
            config["process"]["user"]["umask"] = umask

    return change


def process(**fields: Any) -> Callable[[Config], None]:
    return lambda config: config["process"].update(fields)


def linux(**fields: Any) -> Callable[[Config], None]:
    return lambda config: config["linux"].update(fields)


def resources(**fields: Any) -> Callable[[Config], None]:
    return lambda config: config["linux"].setdefault("resources", {}).update(fields)


def add_mount(**mount: Any) -> Callable[[Config], None]:
    return lambda config: config["mounts"].append(mount)


def caps(extra: list[str], sets: tuple[str, ...] = ("bounding", "effective", "permitted")):
    def change(config: Config) -> None:
        for name in sets:
            current = config["process"]["capabilities"].setdefault(name, [])
            current.extend(cap for cap in extra if cap not in current)

    return change


def seccomp(default: str, *rules: dict[str, Any], **more: Any) -> Callable[[Config], None]:
    profile = {
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": list(rules),
        **more,
    }
    return linux(seccomp=profile)


def docker_seccomp(**more: Any) -> Callable[[Config], None]:
    def change(config: Config) -> None:
        config["linux"]["seccomp"] = {**json.loads(FIXTURE.read_text())["linux"]["seccomp"], **more}

    return change


def bind_data(config: Config) -> None:
    data = SHARED["data"]
    config["mounts"].append(
        {"destination": "/data", "type": "bind", "source": str(data), "options": ["rbind", "ro"]}
    )


def join_uts(config: Config) -> None:
    config["linux"]["namespaces"] = [
        {"type": "uts", "path": f"/proc/{SHARED['uts_pid']}/ns/uts"} if ns["type"] == "uts" else ns
        for ns in config["linux"]["namespaces"]
    ]
    config.pop("hostname", None)


# --- probes -------------------------------------------------------------------------------

CAPS = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"
CG = "/sys/fs/cgroup"

PROBES = [
    # namespaces
    Probe("ns-uts", "namespaces", "hostname; cat /proc/sys/kernel/domainname"),
    Probe(
        "ns-uts-set",
        "namespaces",
        # runc 1.1.5 predates OCI 1.1's "domainname" and ignores it; dockyard-runtime sets it,
        # so only the hostname is compared here (test_core_process.py checks
        # the domainname).
        "hostname; cat /proc/sys/kernel/hostname",
        edit=lambda c: c.update(hostname="probe-host"),
    ),
    Probe(
        "ns-pid", "namespaces", "echo $$; cat /proc/1/comm; grep PPid /proc/1/status; ls /proc/1/ns"
    ),
    Probe("ns-net", "namespaces", "ls /sys/class/net; grep -c : /proc/net/dev"),
    Probe(
        "ns-ipc", "namespaces", "cat /proc/sysvipc/shm /proc/sysvipc/msg | wc -l; ls /dev/mqueue"
    ),
    Probe("ns-cgroup-view", "namespaces", "cat /proc/self/cgroup"),
    Probe("ns-join-uts", "namespaces", "hostname", edit=join_uts),
    # mounts
    Probe(
        "mnt-mountinfo",
        "mounts",
        "awk '{for(i=7;$i!=\"-\";i++);print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo",
    ),
    Probe(
        "mnt-readonly-root",
        "mounts",
        "touch /probe 2>&1; echo rc=$?; touch /dev/shm/ok; echo rc=$?",
    ),
    Probe(
        "mnt-masked",
        "mounts",
        "wc -c < /proc/keys; ls -A /sys/firmware; cat /proc/timer_list | wc -c; ls /proc/acpi",
    ),
    Probe(
        "mnt-readonly-paths",
        "mounts",
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>&1; echo rc=$?; "
        "echo > /proc/sysrq-trigger; echo rc=$?",
    ),
    Probe(
        "mnt-dev",
        "mounts",
        "for f in /dev/* /dev/pts/*; do stat -c '%n %F %a %t:%T %u:%g' $f; done; "
        "for f in /dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/ptmx; do readlink $f; done",
    ),
    Probe(
        "mnt-bind-ro", "mounts", "cat /data/file; touch /data/x 2>&1; echo rc=$?", edit=bind_data
    ),
    Probe(
        "mnt-tmpfs",
        "mounts",
        "stat -c %a /mnt; grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f6",
        edit=add_mount(
            destination="/mnt",
            type="tmpfs",
            source="tmpfs",
            options=["nosuid", "nodev", "noexec", "size=1m", "mode=700"],
        ),
    ),
    Probe(
        "mnt-unknown-type",
        "mounts",
        "echo unreachable",
        failure=True,
        edit=add_mount(destination="/mnt", type="nosuchfs", source="none", options=[]),
    ),
    Probe(
        "mnt-etc-files",
        "mounts",
        "cat /etc/hostname /etc/hosts /etc/resolv.conf",
        bundles=("dockerd",),
    ),
    # devices
    Probe("dev-cgroup-list", "devices", f"cat {CG}/devices/devices.list"),
    Probe(
        "dev-default-nodes",
        "devices",
        "head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null; echo rc=$?; "
        "echo x > /dev/full 2>&1; echo rc=$?; head -c 1 /dev/urandom | wc -c",
    ),
    Probe(
        "dev-mknod-denied",
        "devices",
        "mknod /dev/probe-sda b 8 0 2>&1; echo mknod=$?; "
        "head -c 1 /dev/probe-sda 2>&1; echo read=$?",
    ),
    Probe(
        "dev-linux-devices",
        "devices",
        "stat -c '%F %a %t:%T %u:%g' /dev/probe-full; echo x > /dev/probe-full 2>&1; echo rc=$?",
        edit=linux(
            devices=[
                {
                    "path": "/dev/probe-full",
                    "type": "c",
                    "major": 1,
                    "minor": 7,
                    "fileMode": 0o640,
                    "uid": 0,
                    "gid": 0,
                }
            ]
        ),
    ),
    Probe(
        "dev-console",
        "devices",
        "test -e /dev/console && echo console || echo no-console; ls /dev/pts",
    ),
    # credentials
    Probe("cred-root", "credentials", "id; grep -E '^(Uid|Gid|Groups)' /proc/self/status"),
    Probe(
        "cred-user",
        "credentials",
        "id; grep -E '^(Uid|Gid|Groups)' /proc/self/status",
        edit=user(1000, 1000, [10, 100]),
    ),
    Probe(
        "cred-umask",
        "credentials",
        "umask; touch /dev/shm/f; stat -c %a /dev/shm/f",
        edit=user(0, 0, umask=0o027),
    ),
    Probe(
        "cred-cwd-env",
        "credentials",
        "pwd; env | sort",
        edit=process(cwd="/dev", env=["A=1", "B=two words", "PATH=/bin"]),
    ),
    Probe(
        "cred-nnp-oom",
        "credentials",
        "grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj",
        edit=process(noNewPrivileges=True, oomScoreAdj=500),
    ),
    Probe("cred-bad-user", "credentials", "id", failure=True, edit=user(4294967295, 0)),
    # capabilities
    Probe("cap-sets", "capabilities", CAPS),
    Probe("cap-user", "capabilities", CAPS, edit=user(1000, 1000)),
    Probe(
        "cap-ambient",
        "capabilities",
        CAPS,
        edit=edits(
            user(1000, 1000),
            caps(
                ["CAP_NET_BIND_SERVICE"],
                ("bounding", "effective", "permitted", "inheritable", "ambient"),
            ),
        ),
    ),
    Probe(
        "cap-effect",
        "capabilities",
        "hostname probe 2>&1; echo rc=$?; chown 1000 /dev/shm 2>&1; echo rc=$?; "
        "kill -0 1; echo rc=$?",
    ),
    Probe("cap-unknown-name", "capabilities", CAPS, edit=caps(["CAP_BOGUS", "CAP_SYS_NICE"])),
    # seccomp
    Probe(
        "sc-docker-profile",
        "seccomp",
        "unshare -n true 2>&1; echo rc=$?; mount -t tmpfs none /mnt 2>&1; echo rc=$?; "
        "grep Seccomp: /proc/self/status",
        edit=docker_seccomp(),
    ),
    Probe(
        "sc-default-errno-ret",
        "seccomp",
        "unshare -n true 2>&1; echo rc=$?",
        edit=docker_seccomp(defaultErrnoRet=38),
    ),
    Probe(
        "sc-errno-ret",
        "seccomp",
        "mkdir /dev/shm/d 2>&1; echo rc=$?; ls -d /dev/shm/d",
        edit=seccomp(
            "SCMP_ACT_ALLOW",
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        ),
    ),
    Probe(
        "sc-args",
        "seccomp",
        "linux32 true 2>&1; echo rc=$?; linux64 true; echo rc=$?",
        edit=seccomp(
            "SCMP_ACT_ALLOW",
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
            },
        ),
    ),
    Probe(
        "sc-kill",
        "seccomp",
        "echo before; mkdir /dev/shm/x",
        edit=seccomp("SCMP_ACT_ALLOW", {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}),
    ),
    Probe(
        "sc-trap",
        "seccomp",
        "echo before; mkdir /dev/shm/x",
        edit=seccomp("SCMP_ACT_ALLOW", {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRAP"}),
    ),
    Probe(
        "sc-log",
        "seccomp",
        "mkdir /dev/shm/x && echo made",
        edit=seccomp("SCMP_ACT_ALLOW", {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}),
    ),
    Probe(
        "sc-bad-rule",
        "seccomp",
        "echo unreachable",
        failure=True,
        edit=seccomp("SCMP_ACT_ALLOW", {"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}),
    ),
    # cgroups
    Probe(
        "cg-memory",
        "cgroups",
        f"cat {CG}/memory/memory.limit_in_bytes {CG}/memory/memory.soft_limit_in_bytes",
        edit=resources(memory={"limit": 64 << 20, "reservation": 32 << 20}),
    ),
    Probe(
        "cg-cpu",
        "cgroups",
        f"cat {CG}/cpu/cpu.shares {CG}/cpu/cpu.cfs_quota_us {CG}/cpu/cpu.cfs_period_us "
        f"{CG}/cpuset/cpuset.cpus",
        edit=resources(cpu={"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"}),
    ),
    Probe("cg-pids", "cgroups", f"cat {CG}/pids/pids.max", edit=resources(pids={"limit": 10})),
    Probe(
        "cg-path-systemd-form",
        "cgroups",
        "grep -E 'pids|memory' /proc/self/cgroup",
        edit=linux(cgroupsPath="system.slice:dockyard:vsprobe"),
    ),
    Probe(
        "cg-pids-hit",
        "cgroups",
        "(for i in 1 2 3 4 5; do sleep 0.3 & done; wait) 2>/dev/null; echo rc=$?; "
        f"cat {CG}/pids/pids.events; grep -q 'max 0' {CG}/pids/pids.events",
        failure=True,
        edit=resources(pids={"limit": 3}),
    ),
    Probe(
        "cg-memory-hit",
        "cgroups",
        "(echo 1000 > /proc/self/oom_score_adj; v=$(head -c 67108864 /dev/zero | tr '\\0' a); "
        "echo ${#v}); rc=$?; echo rc=$rc; "
        f"awk '/^oom_kill /{{print \"killed:\", ($2 > 0)}}' {CG}/memory/memory.oom_control; "
        "exit $rc",
        failure=True,
        edit=resources(memory={"limit": 16 << 20, "swap": 16 << 20}),
    ),
    # rlimits
    Probe("rl-default", "rlimits", "ulimit -Sn; ulimit -Hn; ulimit -c"),
    Probe(
        "rl-set",
        "rlimits",
        "ulimit -Sn; ulimit -Hn; ulimit -u; ulimit -c",
        edit=process(
            rlimits=[
                {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 800},
                {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            ]
        ),
    ),
    Probe(
        "rl-above-hard",
        "rlimits",
        "echo unreachable",
        failure=True,
        edit=process(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 4194304, "hard": 4194304}]),
    ),
    # failures of the process itself
    Probe("proc-missing-binary", "exec", argv=("/nonexistent",), failure=True),
    Probe("proc-exit-code", "exec", "exit 7"),
    # terminal
    Probe(
        "tty-basic",
        "terminal",
        "tty; test -t 0 && echo stdin-tty; stty size; readlink /proc/self/fd/2",
        terminal=True,
    ),
    Probe(
        "tty-size",
        "terminal",
        "stty size",
        terminal=True,
        edit=process(consoleSize={"height": 40, "width": 120}),
    ),
    Probe(
        "tty-console",
        "terminal",
        "stat -c '%F %t:%T' /dev/console; ls -l /proc/self/fd | grep -c pts",
        terminal=True,
    ),
    # signals
    Probe(
        "sig-term-trapped",
        "signals",
        "trap 'echo got TERM; exit 3' TERM; " + MOVE_ON,
        steps=(("wait_for", "ready"), ("kill", "TERM")),
    ),
    Probe(
        "sig-kill-number",
        "signals",
        "echo ready; sleep 30",
        steps=(("wait_for", "ready"), ("kill", "9")),
    ),
    Probe(
        "sig-pid1-ignores-term",
        "signals",
        MOVE_ON,
        steps=(
            ("wait_for", "ready"),
            ("kill", "TERM"),
            ("sleep", 0.3),
            ("status",),
            ("kill", "KILL"),
        ),
    ),
    Probe(
        "sig-kill-all",
        "signals",
        "sleep 30 & " + MOVE_ON,
        steps=(("wait_for", "ready"), ("kill", "--all", "KILL")),
    ),
    # exec
    Probe(
        "exec-basic",
        "exec",
        MOVE_ON,
        steps=(
            ("wait_for", "ready"),
            ("exec", [], ["sh", "-c", "hostname; id; cat /proc/1/comm"]),
            ("kill", "KILL"),
        ),
    ),
    Probe(
        "exec-flags",
        "exec",
        MOVE_ON,
        steps=(
            ("wait_for", "ready"),
            (
                "exec",
                ["--env", "FOO=bar", "--cwd", "/dev", "--user", "1000:1000"],
                ["sh", "-c", "echo $FOO; pwd; id"],
            ),
            ("kill", "KILL"),
        ),
    ),
    Probe(
        "exec-process-file",
        "exec",
        MOVE_ON,
        steps=(
            ("wait_for", "ready"),
            (
                "exec_process",
                {
                    "args": ["sh", "-c", "echo $X; pwd; " + CAPS],
                    "env": ["X=1", "PATH=/bin"],
                    "cwd": "/proc",
                    "user": {"uid": 0, "gid": 0},
                    "capabilities": {
                        "bounding": ["CAP_KILL"],
                        "effective": ["CAP_KILL"],
                        "permitted": ["CAP_KILL"],
                    },
                },
            ),
            ("kill", "KILL"),
        ),
    ),
    Probe(
        "exec-confined-alike",
        "exec",
        MOVE_ON,
        edit=docker_seccomp(),
        steps=(
            ("wait_for", "ready"),
            (
                "exec",
                [],
                [
                    "sh",
                    "-c",
                    "grep -E 'Cap|Seccomp|NoNewPrivs' /proc/self/status; cat /proc/self/cgroup",
                ],
            ),
            ("kill", "KILL"),
        ),
    ),
    Probe(
        "exec-missing-binary",
        "exec",
        MOVE_ON,
        failure=True,
        steps=(("wait_for", "ready"), ("exec", [], ["/nonexistent"]), ("kill", "KILL")),
    ),
]


# --- running ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    if not RUNC.exists():
        pytest.skip("runc is not installed")
    candidate = RUNTIMES.get(CANDIDATE)
    if candidate is None:
        pytest.skip(f"unknown VS_RUNC_CANDIDATE {CANDIDATE!r}")
    if CANDIDATE == "dockyard":
        probe = subprocess.run(
            [str(DOCKYARD), "run", "--help"], capture_output=True, text=True, check=False
        )
        if "no verbs yet" in probe.stderr:
            pytest.skip(
                "dockyard-runtime has no run verb yet; VS_RUNC_CANDIDATE=runc checks probes"
            )
    work = tmp_path_factory.mktemp("vs-runc")
    data = work / "data"
    data.mkdir()
    (data / "file").write_text("from the host\n")
    SHARED["data"] = data
    SHARED["token"] = uuid.uuid4().hex[:6]
    helper = subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", "hostname joined-uts && exec sleep 600"]
    )
    SHARED["uts_pid"] = helper.pid
    try:
        with vsprobes.host_fixture(work):
            yield runc_spec(work)
    finally:
        helper.kill()
        helper.wait()


PROBES += vsprobes.PROBES


def _cases(probes: list[Probe] = PROBES) -> Iterator[Any]:
    for probe in probes:
        for kind in probe.bundles:
            marks = [pytest.mark.slow] if probe.slow else []
            yield pytest.param(probe, kind, id=f"{probe.area}-{probe.name}-{kind}", marks=marks)


@pytest.mark.parametrize(("probe", "kind"), list(_cases()))
def test_same_outcome_as_runc(probe: Probe, kind: str, spec: Config, tmp_path: Path) -> None:
    _compare(probe, kind, spec, tmp_path, cgroup2=False)


@pytest.mark.parametrize(("probe", "kind"), list(_cases(vsprobes.V2_PROBES)))
def test_same_outcome_on_cgroup2(probe: Probe, kind: str, spec: Config, tmp_path: Path) -> None:
    _compare(probe, kind, spec, tmp_path, cgroup2=True)


def _compare(probe: Probe, kind: str, spec: Config, tmp_path: Path, *, cgroup2: bool) -> None:
    token = SHARED["token"]
    reference = run_probe(probe, kind, "runc", spec, tmp_path, token, cgroup2=cgroup2)
    candidate = run_probe(probe, kind, CANDIDATE, spec, tmp_path / "candidate", token,
                          cgroup2=cgroup2)
    why = f"runc stderr: {reference.pop('_stderr')}\n{CANDIDATE} stderr: {candidate.pop('_stderr')}"
    assert "driver_error" not in reference, reference["driver_error"]
    assert candidate == reference, why
    if probe.failure:
        steps = reference.get("steps") or []
        failed = reference.get("exit") != 0 or any(
            isinstance(step, list) and step[0] != 0 for step in steps
        )
        assert failed, f"failure probe {probe.name} did not fail under runc: {reference}"


def test_the_suite_has_enough_probes() -> None:
    assert len(PROBES) >= 40
    assert sum(probe.failure for probe in PROBES) >= 5
    areas = {probe.area for probe in PROBES}
    assert areas >= {
        "namespaces",
        "mounts",
        "devices",
        "credentials",
        "capabilities",
        "seccomp",
        "cgroups",
        "rlimits",
        "terminal",
        "signals",
        "exec",
        "pause",
        "update",
        "stats",
        "hooks",
        "userns",
    }
    assert len(vsprobes.V2_PROBES) >= 5
