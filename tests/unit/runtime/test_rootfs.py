"""Which mounts the init makes, in which order, with which flags: recorded, not performed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime import devnodes
from dockyard.runtime.mounts import (
    DEFAULT_FLAGS,
    HostMounts,
    Mounter,
    MountOp,
    convert,
    parse_mountinfo_line,
    secure_join,
)
from dockyard.runtime.rootfs import Rootfs, needs_dev
from dockyard.runtime.spec import Device, Linux, Mount, Root, Spec
from dockyard.sys.flags import (
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
)
from dockyard.sys.recording import Call, RecordingSyscalls

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_STRICTATIME, MS_RELATIME = 2, 4, 8, 1 << 24, 1 << 21

RUNC_MOUNTS = (
    Mount(destination="/proc", type="proc", source="proc"),
    Mount(destination="/dev", type="tmpfs", source="tmpfs",
          options=("nosuid", "strictatime", "mode=755", "size=65536k")),
    Mount(destination="/dev/pts", type="devpts", source="devpts",
          options=("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
    Mount(destination="/dev/shm", type="tmpfs", source="shm",
          options=("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
    Mount(destination="/dev/mqueue", type="mqueue", source="mqueue",
          options=("nosuid", "noexec", "nodev")),
    Mount(destination="/sys", type="sysfs", source="sysfs",
          options=("nosuid", "noexec", "nodev", "ro")),
    Mount(destination="/sys/fs/cgroup", type="cgroup", source="cgroup",
          options=("nosuid", "noexec", "nodev", "relatime", "ro")),
)  # fmt: skip


def host(base: Path) -> HostMounts:
    """Two cgroup v1 hierarchies under ``base`` (cpu,cpuacct co-mounted), the root shared."""
    for name in ("cpu,cpuacct/ctr", "memory/ctr"):
        (base / "cg" / name).mkdir(parents=True)
    mountinfo = (
        "1 0 8:1 / / rw shared:1 - ext4 /dev/vda rw\n"
        f"2 1 0:2 / {base}/cg/cpu,cpuacct rw shared:2 - cgroup cgroup rw,cpu,cpuacct\n"
        f"3 1 0:3 / {base}/cg/memory rw shared:3 - cgroup cgroup rw,memory\n"
        "4 1 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    return HostMounts(mountinfo, "5:memory:/ctr\n4:cpu,cpuacct:/ctr\n0::/ctr\n")


def spec(mounts: tuple[Mount, ...] = RUNC_MOUNTS, **linux: object) -> Spec:
    return Spec(oci_version="1.0.2", root=Root(path="rootfs", readonly=True), mounts=mounts,
                linux=Linux(**linux))


def mounts_of(sys: RecordingSyscalls, root: Path) -> list[tuple[object, ...]]:
    """The recorded calls with the root written as "R" for short."""
    out = []
    for call in sys.calls:
        args = tuple(a.replace(str(root), "R") if isinstance(a, str) else a for a in call.args)
        out.append((call.name, *args))
    return out


@pytest.fixture
def rootfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # prepare() changes the working directory
    monkeypatch.setattr(devnodes, "reopen_dev_null", lambda: None)
    root = tmp_path / "rootfs"
    root.mkdir()
    return root


def test_runc_spec_bundle(rootfs: Path, tmp_path: Path) -> None:
    sys = RecordingSyscalls()
    setup = Rootfs(sys, spec(), str(rootfs), str(tmp_path), host=host(tmp_path), procfd=False)
    setup.prepare()
    cg = f"{tmp_path}/cg"
    ro_cgroup = MS_BIND | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_RDONLY
    assert mounts_of(sys, rootfs)[:17] == [
        ("mount", "", "/", "", MS_SLAVE | MS_REC, ""),
        ("mount", "", "/", "", MS_PRIVATE, ""),  # the (fake) parent mount is shared
        ("mount", "R", "R", "", MS_BIND | MS_REC, ""),
        ("mount", "proc", "R/proc", "proc", 0, ""),
        ("mount", "tmpfs", "R/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
        ("mount", "devpts", "R/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ("mount", "shm", "R/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
         "mode=1777,size=65536k"),
        ("mount", "mqueue", "R/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, ""),
        ("mount", "sysfs", "R/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, ""),
        ("mount", "tmpfs", "R/sys/fs/cgroup", "tmpfs", DEFAULT_FLAGS, "mode=755"),
        ("mount", f"{cg}/cpu,cpuacct/ctr", "R/sys/fs/cgroup/cpu,cpuacct", "", ro_cgroup, ""),
        ("mount", f"{cg}/cpu,cpuacct/ctr", "R/sys/fs/cgroup/cpu,cpuacct", "",
         ro_cgroup | MS_REMOUNT, ""),
        ("mount", f"{cg}/memory/ctr", "R/sys/fs/cgroup/memory", "", ro_cgroup, ""),
        ("mount", f"{cg}/memory/ctr", "R/sys/fs/cgroup/memory", "", ro_cgroup | MS_REMOUNT, ""),
        ("mknod", "R/dev/null", 0o20666, os.makedev(1, 3)),
        ("mknod", "R/dev/random", 0o20666, os.makedev(1, 8)),
        ("mknod", "R/dev/full", 0o20666, os.makedev(1, 7)),
    ]
    assert mounts_of(sys, rootfs)[20:] == [
        ("pivot_root", ".", "."),
        ("mount", "", ".", "", MS_SLAVE | MS_REC, ""),
        ("umount", ".", MNT_DETACH),
    ]
    assert os.readlink(rootfs / "dev/ptmx") == "pts/ptmx"
    assert os.readlink(rootfs / "dev/fd") == "/proc/self/fd"
    assert os.readlink(rootfs / "dev/stderr") == "/proc/self/fd/2"
    assert os.readlink(rootfs / "sys/fs/cgroup/cpu") == "cpu,cpuacct"
    assert os.readlink(rootfs / "sys/fs/cgroup/cpuacct") == "cpu,cpuacct"


def test_finalize_and_protect(rootfs: Path, tmp_path: Path) -> None:
    mounts = (Mount(destination="/tmp", type="tmpfs", source="tmpfs", options=("ro",)),)
    sys = RecordingSyscalls(fail={})
    setup = Rootfs(sys, spec(mounts, masked_paths=("/proc/kcore", "/proc/acpi", "/nope"),
                             readonly_paths=("/proc/sys",)),
                   str(rootfs), str(tmp_path), host=host(tmp_path), procfd=False)
    setup.finalize()
    assert sys.calls == [
        Call("mount", ("", "/tmp", "", MS_RDONLY | MS_REMOUNT | MS_BIND, "")),
        Call("mount", ("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY, "")),
    ]


def test_masked_paths_cover_files_with_dev_null_and_directories_with_tmpfs(
    tmp_path: Path,
) -> None:
    class Masking(RecordingSyscalls):
        def mount(self, source: str, target: str, fstype: str, flags: int = 0,
                  data: str = "") -> None:
            super().mount(source, target, fstype, flags, data)
            if source == "/dev/null" and target == "/proc/acpi":
                from dockyard.errors import SystemCallError

                raise SystemCallError("mount", errno.ENOTDIR, target)
            if target == "/nope":
                from dockyard.errors import SystemCallError

                raise SystemCallError("mount", errno.ENOENT, target)

    sys = Masking()
    setup = Rootfs(sys, spec((), masked_paths=("/proc/kcore", "/proc/acpi", "/nope")),
                   "/r", "/b", host=host(tmp_path), procfd=False)
    setup.protect()
    assert sys.calls == [
        Call("mount", ("/dev/null", "/proc/kcore", "", MS_BIND, "")),
        Call("mount", ("/dev/null", "/proc/acpi", "", MS_BIND, "")),
        Call("mount", ("tmpfs", "/proc/acpi", "tmpfs", MS_RDONLY, "")),
        Call("mount", ("/dev/null", "/nope", "", MS_BIND, "")),
    ]


def test_no_pivot_moves_the_root_and_chroots(rootfs: Path, tmp_path: Path) -> None:
    base = host(tmp_path)
    base.entries.append(parse_mountinfo_line("9 1 0:9 / /proc rw - proc proc rw"))
    sys = RecordingSyscalls()
    Rootfs(sys, spec(()), str(rootfs), str(tmp_path), no_pivot=True, host=base,
           procfd=False).prepare()
    assert mounts_of(sys, rootfs)[-4:] == [
        ("mount", "", "/proc", "", MS_SLAVE | MS_REC, ""),
        ("umount", "/proc", MNT_DETACH),
        ("mount", "R", "/", "", MS_MOVE, ""),
        ("chroot", "."),
    ]


def test_private_propagation_needs_pivot_root(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not safe without pivot_root"):
        Rootfs(RecordingSyscalls(), spec((), rootfs_propagation="rprivate"), "/r", "/b",
               no_pivot=True, host=host(tmp_path))


def test_shared_parent_is_made_private(rootfs: Path, tmp_path: Path) -> None:
    sys = RecordingSyscalls()
    Rootfs(sys, spec((), rootfs_propagation="rshared"), str(rootfs), str(tmp_path),
           host=host(tmp_path), procfd=False).prepare()
    assert mounts_of(sys, rootfs)[:3] == [
        ("mount", "", "/", "", (1 << 20) | MS_REC, ""),
        ("mount", "", "/", "", MS_PRIVATE, ""),
        ("mount", "R", "R", "", MS_BIND | MS_REC, ""),
    ]


@pytest.mark.parametrize(("mount", "op"), [
    (Mount(destination="/etc/hosts", type="bind", source="hosts",
           options=("rbind", "rprivate")),
     MountOp(source="/bundle/hosts", destination="/etc/hosts", device="bind",
             flags=MS_BIND | MS_REC, propagation=(MS_PRIVATE | MS_REC,))),
    (Mount(destination="/data", type="none", source="/srv", options=("bind", "ro", "rslave")),
     MountOp(source="/srv", destination="/data", device="bind", flags=MS_BIND | MS_RDONLY,
             propagation=(MS_SLAVE | MS_REC,))),
    (Mount(destination="/t", type="tmpfs", source="tmpfs",
           options=("rw", "exec", "suid", "dev", "size=1m", "ro", "rw")),
     MountOp(source="tmpfs", destination="/t", device="tmpfs", data="size=1m")),
])  # fmt: skip
def test_options_become_flags_data_and_propagation(mount: Mount, op: MountOp) -> None:
    assert convert(mount, "/bundle") == op


def test_recursive_attributes_are_refused_for_now() -> None:
    with pytest.raises(Unsupported, match="'rro'"):
        convert(Mount(destination="/x", type="bind", source="/y", options=("rbind", "rro")),
                "/b", 3)


def test_bind_remount_applies_the_flags_a_bind_ignored(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    root = tmp_path / "root"
    root.mkdir()
    sys = RecordingSyscalls()
    op = convert(Mount(destination="/d", type="bind", source=str(tmp_path / "src"),
                       options=("rbind", "ro", "nosuid")), "/b")
    Mounter(sys, str(root), host(tmp_path), procfd=False).mount(op)
    flags = MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID
    assert sys.calls == [
        Call("mount", (str(tmp_path / "src"), f"{root}/d", "", flags, "")),
        Call("mount", (str(tmp_path / "src"), f"{root}/d", "", flags | MS_REMOUNT, "")),
    ]
    assert (root / "d").is_dir()


def test_bind_of_a_file_makes_a_file_and_missing_sources_fail(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("x")
    root = tmp_path / "root"
    root.mkdir()
    mounter = Mounter(RecordingSyscalls(), str(root), host(tmp_path), procfd=False)
    mounter.mount(MountOp(source=str(tmp_path / "hosts"), destination="/etc/hosts",
                          device="bind", flags=MS_BIND))
    assert (root / "etc/hosts").is_file()
    with pytest.raises(InvalidArgument, match="does not exist"):
        mounter.mount(MountOp(source=str(tmp_path / "nope"), destination="/x", device="bind",
                              flags=MS_BIND))


@pytest.mark.parametrize("destination", ["/proc", "/proc/sys/x"])
def test_nothing_is_mounted_over_or_inside_proc(tmp_path: Path, destination: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    mounter = Mounter(RecordingSyscalls(), str(root), host(tmp_path), procfd=False)
    with pytest.raises(InvalidArgument, match="cannot be mounted because"):
        mounter.mount(MountOp(source="tmpfs", destination=destination, device="devpts"))


def test_proc_is_not_mounted_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "proc").symlink_to("/etc")
    mounter = Mounter(RecordingSyscalls(), str(root), host(tmp_path), procfd=False)
    with pytest.raises(InvalidArgument, match="ordinary directory"):
        mounter.mount(MountOp(source="proc", destination="/proc", device="proc"))


def test_secure_join_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "escape").symlink_to("/etc")
    (root / "up").symlink_to("../../../..")
    (root / "etc/loop").symlink_to("loop")
    assert secure_join(str(root), "/escape/passwd") == f"{root}/etc/passwd"
    assert secure_join(str(root), "up/x") == f"{root}/x"
    assert secure_join(str(root), "/../../a/./b/..") == f"{root}/a"
    with pytest.raises(InvalidArgument, match="too many levels"):
        secure_join(str(root), "/etc/loop/x")


def test_dev_is_not_set_up_under_a_bind_mounted_dev() -> None:
    assert needs_dev(())
    assert not needs_dev((MountOp(source="/dev", destination="/dev/", device="bind"),))


def test_spec_devices_replace_defaults_and_ptmx_is_a_link() -> None:
    tty = Device(type="c", path="/dev/tty", major=5, minor=0, file_mode=0o600)
    fuse = Device(type="c", path="/dev/fuse", major=10, minor=229)
    ptmx = Device(type="c", path="/dev/ptmx", major=5, minor=2)
    paths = [d.path for d in devnodes.devices_to_create((tty, fuse, ptmx))]
    assert paths == ["/dev/null", "/dev/random", "/dev/full", "/dev/zero", "/dev/urandom",
                     "/dev/tty", "/dev/fuse"]


def test_device_node_falls_back_to_a_bind_when_mknod_is_refused(tmp_path: Path) -> None:
    sys = RecordingSyscalls(fail={"mknod": errno.EPERM})
    devnodes.create_devices(str(tmp_path), devnodes.DEFAULT_DEVICES[:1], sys)
    assert sys.calls == [
        Call("mknod", (f"{tmp_path}/dev/null", 0o20666, os.makedev(1, 3))),
        Call("mount", ("/dev/null", f"{tmp_path}/dev/null", "", MS_BIND, "")),
    ]
