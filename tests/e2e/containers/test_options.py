"""HostConfig and Config options reach the container as dockerd applies them: mounts, limits,
capabilities, security options, a read-only root, process settings, --init, --rm, runtimes;
and bad values are refused with dockerd's words before anything is made."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Daemon, _unmount_under, docker, start_daemon, stop
from .conftest import CLI, bootstrap, kill_leftovers, remove_all

pytestmark = [pytest.mark.root, pytest.mark.slow]


def out(cli: CLI, *args: str) -> str:
    code, stdout, stderr = cli("run", "--rm", *args)
    assert code == 0, stderr
    return stdout


def test_binds_and_tmpfs(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("from the host\n")
    assert out(cli, "-v", f"{tmp_path}:/data", "busybox", "sh", "-c",
               "cat /data/f; echo made > /data/new") == "from the host\n"
    assert (tmp_path / "new").read_text() == "made\n"
    code, _, err = cli("run", "--rm", "-v", f"{tmp_path}:/data:ro", "busybox", "touch",
                       "/data/x")
    assert code == 1 and "Read-only file system" in err
    assert out(cli, "--mount", f"type=bind,source={tmp_path},target=/m,readonly", "busybox",
               "cat", "/m/f") == "from the host\n"
    text = out(cli, "--tmpfs", "/run:size=1m", "busybox", "sh", "-c",
               "grep ' /run ' /proc/mounts")
    assert text.startswith("tmpfs /run tmpfs rw,nosuid,nodev,noexec,") and "size=1024k" in text


def test_resources(cli: CLI) -> None:
    cg = "/sys/fs/cgroup"
    if not Path(f"{cg}/memory/memory.limit_in_bytes").exists():
        pytest.skip("the checks read cgroup v1 files")
    assert out(cli, "-m", "64m", "busybox", "cat", f"{cg}/memory/memory.limit_in_bytes") == \
        f"{64 << 20}\n"
    assert out(cli, "--cpus", "0.5", "busybox", "sh", "-c",
               f"cat {cg}/cpu/cpu.cfs_quota_us {cg}/cpu/cpu.cfs_period_us") == "50000\n100000\n"
    assert out(cli, "--cpu-shares", "512", "--cpu-quota", "20000", "--cpu-period", "40000",
               "busybox", "sh", "-c",
               f"cat {cg}/cpu/cpu.shares {cg}/cpu/cpu.cfs_quota_us {cg}/cpu/cpu.cfs_period_us") \
        == "512\n20000\n40000\n"
    assert out(cli, "--pids-limit", "20", "busybox", "cat", f"{cg}/pids/pids.max") == "20\n"
    assert out(cli, "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
               "ulimit -n; ulimit -Hn") == "100\n200\n"


def test_oom_killed(cli: CLI) -> None:
    code, _, _ = cli("run", "--name", "hog", "-m", "8m", "--memory-swap", "8m", "busybox",
                     "sh", "-c", "x=a; while true; do x=$x$x; done")
    assert code == 137
    assert cli("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog") == (
        0, "true 137\n", "")


def test_capabilities_and_security(cli: CLI) -> None:
    def caps(*args: str) -> int:
        return int(out(cli, *args, "busybox", "sh", "-c",
                       "grep CapEff /proc/self/status").split()[1], 16)

    default = caps()
    assert default == 0xa80425fb  # Docker's default set
    assert caps("--cap-drop", "ALL") == 0
    assert caps("--cap-add", "NET_ADMIN") == default | 1 << 12
    assert caps("--cap-drop", "CHOWN") == default & ~1
    assert caps("--privileged") & (1 << 21)  # CAP_SYS_ADMIN
    assert out(cli, "busybox", "grep", "Seccomp:", "/proc/self/status") == "Seccomp:\t2\n"
    assert out(cli, "--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:",
               "/proc/self/status") == "Seccomp:\t0\n"
    assert out(cli, "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
               "/proc/self/status") == "NoNewPrivs:\t1\n"
    code, _, err = cli("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert code == 1 and "Read-only file system" in err
    assert out(cli, "--read-only", "--tmpfs", "/tmp", "busybox", "touch", "/tmp/x") == ""


def test_process_settings(cli: CLI) -> None:
    assert out(cli, "-e", "A=1", "-u", "65534:65534", "-w", "/tmp", "--hostname", "hh",
               "--entrypoint", "sh", "busybox", "-c",
               "echo $A $(id -u):$(id -g) $(pwd) $(hostname) $HOME") == \
        "1 65534:65534 /tmp hh /home\n"
    assert out(cli, "-l", "k=v", "busybox", "sh", "-c", "echo $PATH") == \
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    text = out(cli, "--init", "busybox", "ps", "-o", "pid,args")
    assert text.splitlines()[1].split(None, 1) == ["1", "/sbin/docker-init -- ps -o pid,args"]
    code, _, err = cli("run", "--rm", "-u", "nosuchuser", "busybox", "true")
    assert code == 125 and "unable to find user nosuchuser" in err


def test_auto_remove(cli: CLI) -> None:
    _, stdout, _ = cli("run", "-d", "--rm", "busybox", "true")
    container = stdout.strip()
    assert cli("wait", container)[0] in (0, 1)  # removed meanwhile: "No such container"
    # `wait` answers at the exit; the removal follows it (as with dockerd): poll for it.
    deadline = time.monotonic() + 10
    while cli("ps", "-aq") != (0, "", "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cli("ps", "-aq") == (0, "", "")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_runtime_flag(cli: CLI, runtime: str) -> None:
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} is not installed")
    code, stdout, stderr = cli("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c",
                               "echo via; exit 3")
    if runtime == "crun" and "hybrid mode" in stderr:
        pytest.skip("crun needs the hugetlb v1 mount on this machine (bench/setup.sh)")
    assert (code, stdout) == (3, "via\n")
    cli("run", "-d", "--name", f"on-{runtime}", "--runtime", runtime, "busybox", "sleep", "100")
    assert cli("exec", f"on-{runtime}", "echo", "in") == (0, "in\n", "")
    assert cli("inspect", "-f", "{{.HostConfig.Runtime}}", f"on-{runtime}") == (
        0, f"{runtime}\n", "")
    assert cli("rm", "-f", f"on-{runtime}")[0] == 0


@pytest.mark.parametrize(("args", "message"), [
    (("-m", "1k"), "Minimum memory limit allowed is 6MB"),
    (("--cpus", "64"), "Range of CPUs is from 0.01 to"),
    (("--restart", "sometimes"), "invalid restart policy"),
    (("--runtime", "kata"), "Unknown runtime specified kata"),
    (("--cap-add", "BOGUS"), 'unknown capability: "CAP_BOGUS"'),
    (("--ulimit", "bogus=1"), "invalid ulimit type: bogus"),
])
def test_bad_input(cli: CLI, args: tuple[str, ...], message: str) -> None:
    code, _, err = cli("run", *args, "busybox", "true")
    assert code == 125 and message in err, err
    assert cli("ps", "-aq") == (0, "", "")


@pytest.fixture
def runc_daemon() -> Iterator[Daemon]:
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="dy-e2e-"))
    started = None
    try:
        started = start_daemon(workdir, "--default-runtime", "runc")
        bootstrap(started)
        yield started
    finally:
        if started is not None:
            remove_all(started)
            stop(started.process)
        kill_leftovers(workdir)
        _unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def test_default_runtime(runc_daemon: Daemon) -> None:
    assert docker(runc_daemon, "run", "--name", "dflt", "busybox", "echo", "hi") == (
        0, "hi\n", "")
    assert docker(runc_daemon, "inspect", "-f", "{{.HostConfig.Runtime}}", "dflt") == (
        0, "runc\n", "")


def test_log_options(cli: CLI, engine: Daemon) -> None:
    cli("run", "--name", "rotating", "--log-opt", "max-size=2k", "--log-opt", "max-file=2",
        "busybox", "seq", "1", "2000")
    code, stdout, _ = cli("logs", "rotating")
    lines = stdout.splitlines()
    assert code == 0 and lines[-1] == "2000" and 10 < len(lines) < 100  # two small files kept
    assert lines == [str(n) for n in range(int(lines[0]), 2001)]
    container = cli("inspect", "-f", "{{.Id}}", "rotating")[1].strip()
    logs = sorted(p.name for p in (engine.data_root / "containers" / container).glob("*log*"))
    assert logs == [f"{container}-json.log", f"{container}-json.log.1"]
    cli("run", "--name", "silent", "--log-driver", "none", "busybox", "echo", "unseen")
    code, _, err = cli("logs", "silent")
    assert code == 1 and "configured logging driver does not support reading" in err
