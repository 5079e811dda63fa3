"""The capability sets applied in a forked child, read back from /proc/self/status."""

from __future__ import annotations

import os

import pytest

from dockyard.runtime.capabilities import Capabilities, CapabilitySpec, last_cap, resolve
from dockyard.sys.linux import LinuxSyscalls

pytestmark = pytest.mark.root


def _status_in_child(spec: CapabilitySpec, uid: int | None = None) -> dict[str, str]:
    """Forks; the child applies ``spec`` (switching to ``uid`` in between, like the init)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            os.close(read_fd)
            last = last_cap()
            caps = Capabilities(LinuxSyscalls(), resolve(spec, last), last)
            caps.drop_bounding()
            caps.keep_across_setuid()
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            caps.clear_keep()
            caps.apply()
            with open("/proc/self/status", "rb") as status:
                os.write(write_fd, status.read())
        except BaseException as exc:
            os.write(write_fd, f"error: {exc}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        text = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
    return {key: fields[key] for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


RUNC_SPEC = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")


def test_runc_spec_defaults_as_root() -> None:
    spec = CapabilitySpec(
        bounding=RUNC_SPEC,
        effective=RUNC_SPEC,
        permitted=RUNC_SPEC,
        ambient=RUNC_SPEC,
        inheritable=RUNC_SPEC,
    )
    assert _status_in_child(spec) == {
        "CapInh": "0000000020000420",
        "CapPrm": "0000000020000420",
        "CapEff": "0000000020000420",
        "CapBnd": "0000000020000420",
        "CapAmb": "0000000020000420",
    }


def test_permitted_survives_setuid_and_ambient_reaches_a_non_root_user() -> None:
    spec = CapabilitySpec(
        bounding=(*RUNC_SPEC, "CAP_CHOWN"),
        effective=("CAP_KILL",),
        permitted=RUNC_SPEC,
        inheritable=("CAP_KILL",),
        ambient=("CAP_KILL",),
    )
    assert _status_in_child(spec, uid=1000) == {
        "CapInh": "0000000000000020",
        "CapPrm": "0000000020000420",
        "CapEff": "0000000000000020",
        "CapBnd": "0000000020000421",
        "CapAmb": "0000000000000020",
    }


def test_empty_sets_drop_everything() -> None:
    assert _status_in_child(CapabilitySpec()) == {
        "CapInh": "0000000000000000",
        "CapPrm": "0000000000000000",
        "CapEff": "0000000000000000",
        "CapBnd": "0000000000000000",
        "CapAmb": "0000000000000000",
    }
