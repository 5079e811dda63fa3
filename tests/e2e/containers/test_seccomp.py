"""Docker's default seccomp profile at work, beside the shared dockerd 20.10: a default container
may not unshare a user or mount namespace nor read the kernel log; --cap-add SYS_ADMIN,
--cap-add SYSLOG and --security-opt seccomp=unconfined open what they open on dockerd. Each side
runs the same busybox rootfs (imported under a unique name, removed at the end) and the same
script; exit codes and messages are compared."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ..comparison import BUSYBOX
from .conftest import CLI

pytestmark = [pytest.mark.root]  # about 3 s

# the rootfs has /bin/busybox and /bin/sh: the other applets are called through busybox
SCRIPT = ("busybox unshare -U true; echo unshare-user=$?; busybox unshare -m true; "
          "echo unshare-mount=$?; busybox dmesg >/dev/null; echo syslog=$?; "
          "busybox grep Seccomp: /proc/self/status")
DENIED = ("unshare: unshare(0x10000000): Operation not permitted",
          "unshare: unshare(0x20000): Operation not permitted",
          "dmesg: klogctl: Operation not permitted")
# options -> (stdout, the stderr lines); what dockerd 20.10 does on the development VM
EXPECTED = {
    (): ("unshare-user=1\nunshare-mount=1\nsyslog=1\nSeccomp:\t2\n", DENIED),
    ("--cap-add", "SYS_ADMIN"): ("unshare-user=0\nunshare-mount=0\nsyslog=1\nSeccomp:\t2\n",
                                 DENIED[2:]),
    ("--cap-add", "SYSLOG"): ("unshare-user=1\nunshare-mount=1\nsyslog=0\nSeccomp:\t2\n",
                              DENIED[:2]),
    ("--security-opt", "seccomp=unconfined"): (  # no filter: the capability checks remain
        "unshare-user=0\nunshare-mount=1\nsyslog=1\nSeccomp:\t0\n", DENIED[1:]),
}


def rootfs(marker: str) -> bytes:
    """/bin/busybox, /bin/sh -> busybox and a marker file that makes the layer this test's."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "etc", "proc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        data = marker.encode()
        info = tarfile.TarInfo("etc/marker")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run(run: CLI, name: str, image: str, options: tuple[str, ...]) -> tuple[int, str, tuple[
        str, ...]]:
    code, out, err = run("run", "--name", name, *options, image, "sh", "-c", SCRIPT)
    run("rm", "-f", name)
    # dockerd's CLI warnings (IPv4 forwarding off on the VM) are not the container's
    return code, out, tuple(line for line in err.splitlines() if not line.startswith("WARNING"))


def test_default_profile_as_dockerd(cli: CLI, dockerd: CLI) -> None:
    prefix = f"dyseccomp-e2e-{os.getpid()}-"
    image = prefix + "img"
    tar = rootfs(prefix + "\n")
    results: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {"ours": [], "theirs": []}
    try:
        for side, run in (("ours", cli), ("theirs", dockerd)):
            code, _, err = run("import", "-", image, stdin=tar)
            assert code == 0, err
            for index, options in enumerate(EXPECTED):
                results[side].append(_run(run, f"{prefix}{index}", image, options))
    finally:
        for run in (cli, dockerd):
            run("rm", "-f", *(f"{prefix}{index}" for index in range(len(EXPECTED))))
            run("rmi", image)
    expected = [(0, out, err) for out, err in EXPECTED.values()]
    assert results["theirs"] == expected
    assert results["ours"] == expected
