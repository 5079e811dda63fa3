"""``spec``: write runc's starter config.json into the bundle (``--bundle``, else the current
directory), byte for byte what ``runc spec`` writes (Go's ``json.MarshalIndent`` with a tab,
no final newline); ``--rootless`` applies runc's ``ToRootless`` (a user namespace mapping the
caller's uid and gid to root, no network namespace, /sys bound from the host, no uid=/gid=
mount options, no resources). Every field of it is one dockyard-runtime supports.
"""

from __future__ import annotations

import os

from dockyard.errors import AlreadyExists

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]


def example() -> dict[str, object]:
    """runc's ``specconv.Example()`` (runc 1.1)."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {name: list(_CAPS)
                             for name in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": list(_NOSUID_NOEXEC_NODEV)},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": [*_NOSUID_NOEXEC_NODEV, "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": [*_NOSUID_NOEXEC_NODEV, "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }  # fmt: skip


def rootless(spec: dict[str, object], uid: int, gid: int) -> dict[str, object]:
    """runc's ``specconv.ToRootless`` for a caller of ``uid``/``gid``."""
    linux = spec["linux"]
    assert isinstance(linux, dict)
    namespaces = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"] = [*namespaces, {"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    mounts = []
    for mount in spec["mounts"]:  # type: ignore[attr-defined]
        if os.path.normpath(mount["destination"]) == "/sys":
            mounts.append({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
            continue
        kept = [o for o in mount.get("options", ()) if not o.startswith(("gid=", "uid="))]
        fixed = {k: v for k, v in mount.items() if k != "options"}
        mounts.append({**fixed, "options": kept} if kept else fixed)
    spec["mounts"] = mounts
    del linux["resources"]
    return spec


def render(spec: dict[str, object]) -> str:
    """Go's ``json.MarshalIndent(spec, "", "\\t")`` with the spec's field order."""
    from dockyard.runtime.jsontext import dumps

    ordered = {key: spec[key] for key in ("ociVersion", "process", "root", "hostname", "mounts",
                                          "linux") if key in spec}
    linux = ordered["linux"]
    assert isinstance(linux, dict)
    order = ("uidMappings", "gidMappings", "resources", "namespaces", "maskedPaths",
             "readonlyPaths")
    ordered["linux"] = {key: linux[key] for key in order if key in linux}
    return dumps(ordered, "\t")


def write(bundle: str, *, as_rootless: bool = False) -> None:
    """Write ``<bundle>/config.json`` (mode 0666 less the umask); it must not exist yet."""
    spec = example()
    if as_rootless:
        spec = rootless(spec, os.geteuid(), os.getegid())
    path = os.path.join(bundle or ".", "config.json")
    if os.path.lexists(path):
        raise AlreadyExists(f"{path}: file exists, remove it first")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, render(spec).encode())
    finally:
        os.close(fd)
