"""Safety: only the fds asked for reach the container; the container cannot reach the runtime's
interpreter through /proc (CVE-2019-5736); a cwd outside the root is refused (CVE-2024-21626)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .corebundle import DOCKYARD, RUNC, Runtime, host_picture, make_bundle, runc_spec

pytestmark = pytest.mark.root
QUIET = {"capture_output": False, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
INTERPRETER = Path(os.path.realpath(sys.executable))


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    ours, theirs = Runtime(DOCKYARD, tmp_path / "dy"), Runtime(RUNC, tmp_path / "runc")
    try:
        yield ours, theirs
    finally:
        ours.cleanup()
        theirs.cleanup()


def with_fds(runtime: Runtime, redirects: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the runtime with extra fds open (shell redirections such as ``3</dir``)."""
    command = " ".join(["exec", redirects, runtime.binary, "--root", str(runtime.root),
                        *args])
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_only_stdio_and_preserved_fds_reach_the_container(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    script = "ls /proc/self/fd | sort -n | tr '\\n' ' '; for f in 3 4 5 6; do " \
             "readlink /proc/self/fd/$f >/dev/null 2>&1 && echo has $f; done; true"
    outputs = []
    for runtime in runtimes:
        bundle = make_bundle(tmp_path / "bundles" / runtime.root.name,
                             runc_spec(args=["sh", "-c", script]))
        done = with_fds(runtime, f"3<{tmp_path} 4<{tmp_path} 5<{tmp_path}",  # 2 preserved
                        "run", "--preserve-fds", "2", "-b", str(bundle),
                        f"fds-{uuid.uuid4().hex[:6]}")
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == "0 1 2 3 4 5 has 3\nhas 4\n"  # 5 is ls's own directory fd


def test_proc_self_exe_never_runs_the_host_interpreter(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    """With the interpreter's prefix and libraries mounted in (so it could run there),
    /proc/self/exe as the program, or as the #! interpreter of a script, must not start the
    runtime's interpreter in the container: it would hand the container the host's binary."""
    ours, _ = runtimes
    config = runc_spec(args=["/proc/self/exe", "-c",
                             "import os; print(os.readlink('/proc/self/exe'))"])
    for path in (str(INTERPRETER.parents[1]), "/usr/lib", "/usr/lib64"):
        config["mounts"].append({"destination": path, "type": "bind", "source": path,
                                 "options": ["rbind", "ro"]})
    before = digest(INTERPRETER)
    bundle = make_bundle(tmp_path / "b", config)
    for name in ("lib", "lib64"):
        (bundle / "rootfs" / name).symlink_to(f"usr/{name}")
    (bundle / "rootfs/evil").write_text("#!/proc/self/exe\nimport os\n")
    os.chmod(bundle / "rootfs/evil", 0o755)
    control = subprocess.run(  # the same run without the sealed helper: the attack works
        [sys.executable, "-c", "import sys; from dockyard.runtime import exechelper; "
         "exechelper.sealed_copy = lambda: -1; from dockyard.runtime.main import main; "
         f"sys.exit(main(['--root', '{ours.root}', 'run', '-b', '{bundle}', 'control']))"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert (control.returncode, control.stdout) == (0, f"{INTERPRETER}\n")
    direct = ours("run", "-b", str(bundle), f"exe-{uuid.uuid4().hex[:6]}")
    config["process"]["args"] = ["/evil"]
    (bundle / "config.json").write_text(json.dumps(config))
    script = ours("run", "-b", str(bundle), f"exe-{uuid.uuid4().hex[:6]}")
    assert (direct.returncode, direct.stdout) == (127, "")
    assert (script.returncode, script.stdout) == (127, "")
    assert digest(INTERPRETER) == before


def test_a_waiting_init_cannot_be_opened_from_its_pid_namespace(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime]
) -> None:
    """A container shares its pid namespace with another one whose init (the runtime's
    interpreter, waiting for start) is visible to it: /proc/<pid>/exe, fd/ of it stay shut."""
    ours, _ = runtimes
    first = f"host-{uuid.uuid4().hex[:6]}"
    bundle = make_bundle(tmp_path / "first", runc_spec(args=["sleep", "1000"]))
    assert ours("run", "-d", "--pid-file", str(tmp_path / "pid"), "-b", str(bundle), first,
                **QUIET).returncode == 0
    pid = int((tmp_path / "pid").read_text())
    second_config = runc_spec(args=["true"])
    second_config["linux"]["namespaces"][0] = {"type": "pid", "path": f"/proc/{pid}/ns/pid"}
    second = f"guest-{uuid.uuid4().hex[:6]}"
    second_bundle = make_bundle(tmp_path / "second", second_config)
    assert ours("create", "-b", str(second_bundle), second, **QUIET).returncode == 0
    probe = (
        "for p in /proc/[0-9]*; do n=${p#/proc/}; [ $n = 1 -o $n = $$ ] && continue; "
        "c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case \"$c\" in *dockyard*) "
        "echo found; readlink $p/exe || echo exe-link-denied; "
        "cat $p/exe >/dev/null 2>&1 && echo exe-read || echo exe-read-denied; "
        "(echo x >> $p/exe) 2>/dev/null && echo exe-write || echo exe-write-denied; "
        "readlink $p/fd/0 >/dev/null 2>&1 && echo fd-link || echo fd-link-denied; "
        "cat $p/environ >/dev/null 2>&1 && echo environ || echo environ-denied;; esac; done"
    )
    before = digest(INTERPRETER)
    done = ours("exec", first, "sh", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["found", "exe-link-denied", "exe-read-denied",
                                   "exe-write-denied", "fd-link-denied", "environ-denied"]
    assert digest(INTERPRETER) == before
    assert ours("delete", "--force", second).returncode == 0
    assert ours("delete", "--force", first).returncode == 0


@pytest.mark.parametrize("preserve", [True, False], ids=["preserved-fd", "leaked-fd"])
def test_a_cwd_through_an_fd_of_the_host_is_refused(
    tmp_path: Path, runtimes: tuple[Runtime, Runtime], preserve: bool
) -> None:
    ours, _ = runtimes
    cid = f"cwd-{uuid.uuid4().hex[:6]}"
    bundle = make_bundle(tmp_path / "b", runc_spec(args=["sh", "-c", "pwd; ls"],
                                                    cwd="/proc/self/fd/3"))
    (tmp_path / "host-secret").write_text("x")
    args = ["--preserve-fds", "1"] if preserve else []
    done = with_fds(ours, f"3<{tmp_path}", "run", *args, "-b", str(bundle), cid)
    assert done.returncode == 1
    assert "host-secret" not in done.stdout
    assert "cwd" in done.stderr
    assert host_picture(cid, tmp_path) == {"mounts": [], "cgroups": [], "processes": []}
