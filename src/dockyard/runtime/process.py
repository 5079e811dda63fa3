"""The container process's own settings, applied by the init (or an exec'd process) before
execve(2): who it runs as, where, with what limits, and what it may inherit.

Everything here runs inside the container (after the root has changed), in the order
``init.py`` documents. The decisions are plain functions (user lookup in the container's
/etc/passwd and /etc/group, environment checks, PATH lookup, sysctl checks) so they are
tested without a container; the ``apply_*`` functions make the calls.

Inheritance is closed off here: :func:`close_fds` keeps only stdio, ``--preserve-fds`` and
the runtime's own close-on-exec fds; ``signals.reset`` undoes what the runtime (a Python
process) had ignored or blocked, since ignored signals survive execve(2); the init is
non-dumpable from its first instruction (``init.py``) until execve(2), so /proc/<pid>/exe and
/proc/<pid>/fd of the runtime's interpreter cannot be opened from the container
(CVE-2019-5736); :func:`change_directory` refuses a cwd outside the root (CVE-2024-21626).
"""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidArgument, NotFound, SystemCallError
from dockyard.runtime.record import Record
from dockyard.runtime.spec import RLIMITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dockyard.runtime.spec import Process, Rlimit
    from dockyard.sys import Syscalls

MAX_ID = 2**31 - 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
CLOSE_RANGE_CLOEXEC = 4
_IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                          "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                          "kernel.shm_rmid_forced"})


class ExecUser(Record):
    """Who the process runs as, after looking the spec's ids up (runc's ``ExecUser``)."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    home: str = "/"


def lookup_user(uid: int, gid: int, additional: tuple[int, ...], passwd: str, group: str) \
        -> ExecUser:
    """The spec's ``uid``/``gid`` with the home directory from ``passwd`` (the text of the
    container's /etc/passwd) and the additional gids; as runc does for ``"uid:gid"``, the
    supplementary groups are exactly ``additional`` (no /etc/group membership)."""
    if not 0 <= uid <= MAX_ID:
        raise InvalidArgument(f"unable to setup user: uid {uid} is out of range")
    if not 0 <= gid <= MAX_ID:
        raise InvalidArgument(f"unable to setup user: gid {gid} is out of range")
    home = "/"
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2].strip() == str(uid):
            home = fields[5]
            break
    groups: list[int] = []
    for extra in additional:
        if not 0 <= extra <= MAX_ID:
            raise InvalidArgument(f"unable to setup user: additional gid {extra} is out of range")
        if extra not in groups:
            groups.append(extra)
    del group  # runc matches numeric additional gids against /etc/group but keeps them as is
    return ExecUser(uid=uid, gid=gid, groups=tuple(groups), home=home)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as file:
            return file.read()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def check_env(env: tuple[str, ...]) -> dict[str, str]:
    """``KEY=value`` strings as a dict (later duplicates win), with runc's checks."""
    out: dict[str, str] = {}
    for pair in env:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid environment variable {pair!r}: missing '='")
        if not name:
            raise InvalidArgument(f"environment variable name can't be empty: {pair!r}")
        if "\0" in pair:
            raise InvalidArgument(f"environment variable can't contain a NUL byte: {pair!r}")
        out[name] = value
    return out


def with_home(env: dict[str, str], home: str) -> dict[str, str]:
    if env.get("HOME"):
        return env
    return {**env, "HOME": home}


def look_path(name: str, env: Mapping[str, str]) -> str:
    """Go's exec.LookPath with the container's PATH: the file that execve(2) will run."""
    if "/" in name:
        _check_executable(name, name)
        return name
    for directory in env.get("PATH", "").split(":"):
        candidate = f"{directory or '.'}/{name}"
        try:
            _check_executable(candidate, name)
        except NotFound:
            continue
        return candidate
    raise NotFound(f'exec: "{name}": executable file not found in $PATH')


def _check_executable(path: str, name: str) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        if "/" in name:
            reason = (exc.strerror or "error").lower()
            raise NotFound(f'exec: "{name}": stat {path}: {reason}') from exc
        raise NotFound(path) from exc
    import stat

    if stat.S_ISDIR(info.st_mode) or not info.st_mode & 0o111:
        if "/" in name:
            raise InvalidArgument(f'exec: "{name}": permission denied')
        raise NotFound(path)


def check_sysctl(name: str, namespaces: Mapping[str, str], host_net: bool = False) -> None:
    """runc's rule: a sysctl must belong to a namespace the container has its own of.

    ``namespaces`` maps the container's namespace types to their paths ("" for new ones);
    ``host_net`` tells that a joined network namespace is the runtime's own."""
    name = name.replace("/", ".")
    if name in _IPC_SYSCTLS or name.startswith("fs.mqueue."):
        if "ipc" not in namespaces:
            raise InvalidArgument(f"sysctl {name!r} is not allowed in the hosts ipc namespace")
        return
    if name.startswith("net."):
        if "network" not in namespaces or host_net:
            raise InvalidArgument(f"sysctl {name!r} not allowed in host network namespace")
        return
    if "uts" in namespaces and name == "kernel.domainname":
        return
    if "uts" in namespaces and name == "kernel.hostname":
        raise InvalidArgument(
            f"sysctl {name!r} is not allowed as it conflicts with the OCI 'hostname' field")
    raise InvalidArgument(f"sysctl {name!r} is not in a separate kernel namespace")


def apply_sysctl(sysctl: Mapping[str, str]) -> None:
    for name, value in sysctl.items():
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path, "w") as file:
                file.write(value)
        except OSError as exc:
            raise SystemCallError("write", exc.errno or 0, f"{path} (sysctl {name})") from exc


def apply_rlimits(rlimits: tuple[Rlimit, ...]) -> None:
    import resource

    for rlimit in rlimits:
        soft = resource.RLIM_INFINITY if rlimit.soft >= 2**64 - 1 else rlimit.soft
        hard = resource.RLIM_INFINITY if rlimit.hard >= 2**64 - 1 else rlimit.hard
        try:
            resource.setrlimit(RLIMITS[rlimit.type], (soft, hard))
        except (OSError, ValueError) as exc:
            code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EPERM
            raise SystemCallError("setrlimit", code, rlimit.type) from exc


def apply_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as file:
            file.write(str(value))
    except OSError as exc:
        raise SystemCallError("write", exc.errno or 0, "/proc/self/oom_score_adj") from exc


def apply_user(user: ExecUser) -> None:
    """Stdio ownership, supplementary groups, gid, uid (runc's ``setupUser``)."""
    _fix_stdio_owner(user.uid)
    if read_text("/proc/self/setgroups").strip() != "deny":
        os.setgroups(list(user.groups))
    try:
        os.setgid(user.gid)
        os.setuid(user.uid)
    except OSError as exc:
        raise SystemCallError("setuid", exc.errno or 0, f"{user.uid}:{user.gid}") from exc


def _fix_stdio_owner(uid: int) -> None:
    """Give the process its stdio (a console, a pipe) unless it is /dev/null."""
    try:
        null = os.stat("/dev/null").st_rdev
    except OSError:
        null = -1
    for fd in range(3):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if info.st_uid == uid or info.st_rdev == null:
            continue
        try:
            os.fchown(fd, uid, info.st_gid)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM, errno.EROFS):
                raise


def make_cwd(cwd: str) -> None:
    """mkdir -p the cwd inside the new root, as runc does (the root changed: safe)."""
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"cwd {cwd!r} set in config.json: {exc.strerror}") from exc


def change_directory(cwd: str) -> None:
    """chdir(2) to ``cwd``, refusing one that resolves outside the root (CVE-2024-21626):
    through a leaked fd (/proc/self/fd/N) getcwd(3) would answer "(unreachable)/..."."""
    try:
        os.chdir(cwd)
        where = os.getcwd()
    except FileNotFoundError as exc:
        raise InvalidArgument(
            f"chdir to cwd ({cwd!r}) set in config.json failed: {exc.strerror}") from exc
    except OSError as exc:
        raise SystemCallError("chdir", exc.errno or 0, cwd) from exc
    if not where.startswith("/"):
        raise InvalidArgument(f"cwd {cwd!r} resolves outside the container's root")


def close_fds(keep_upto: int, sys: Syscalls) -> None:
    """Mark every fd from ``keep_upto`` on close-on-exec: only stdio and the preserved fds
    (3 .. keep_upto-1) reach the container (the runtime's own fds are all close-on-exec)."""
    sys.close_range(keep_upto, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)


def no_new_privileges(sys: Syscalls) -> None:
    sys.prctl(PR_SET_NO_NEW_PRIVS, 1)


def prepare_exec(process: Process, user: ExecUser) -> tuple[str, list[str], dict[str, str]]:
    """The path, argv and environment of the execve(2); the path is checked now so that a
    missing binary is a create-time error (as with runc)."""
    env = with_home(check_env(process.env), user.home)
    path = look_path(process.args[0], env)
    return path, list(process.args), env
