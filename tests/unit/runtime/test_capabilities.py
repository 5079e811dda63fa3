from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import SystemCallError
from dockyard.runtime.capabilities import (
    NAMES,
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    PR_SET_KEEPCAPS,
    Capabilities,
    CapabilityMasks,
    CapabilitySpec,
    RuncCapabilities,
    last_cap,
    mask,
    names,
    resolve,
)
from dockyard.sys import CapabilitySets
from dockyard.sys.recording import Call, RecordingSyscalls

DOCKER_DEFAULT = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip


def test_numbers_follow_the_kernel_header() -> None:
    assert len(NAMES) == 41
    assert NAMES[0] == "CAP_CHOWN"
    assert NAMES[21] == "CAP_SYS_ADMIN"
    assert NAMES[40] == "CAP_CHECKPOINT_RESTORE"


def test_docker_default_set_is_the_mask_docker_shows() -> None:
    # `docker run busybox grep CapEff /proc/self/status` prints 00000000a80425fb.
    assert mask(DOCKER_DEFAULT) == 0xA80425FB
    assert set(names(0xA80425FB)) == set(DOCKER_DEFAULT)


def test_resolve_ignores_unknown_and_unavailable_names() -> None:
    spec = CapabilitySpec(
        bounding=("CAP_KILL", "CAP_BOGUS", "CAP_CHECKPOINT_RESTORE"),
        effective=("CAP_KILL",),
        permitted=("CAP_KILL",),
        inheritable=(),
        ambient=("CAP_KILL",),
    )
    assert resolve(spec, last=39) == CapabilityMasks(
        bounding=1 << 5,
        effective=1 << 5,
        inheritable=0,
        permitted=1 << 5,
        ambient=1 << 5,
        ignored=("CAP_BOGUS", "CAP_CHECKPOINT_RESTORE"),
    )


def test_last_cap_reads_the_kernel_file(tmp_path: Path) -> None:
    (tmp_path / "cap_last_cap").write_text("38\n")
    assert last_cap(tmp_path / "cap_last_cap") == 38
    assert last_cap(tmp_path / "missing") == 40


def test_apply_in_runc_order() -> None:
    sys = RecordingSyscalls()
    masks = CapabilityMasks(
        bounding=0b11, effective=0b1, inheritable=0b10, permitted=0b11, ambient=0b10
    )
    caps = Capabilities(sys, masks, last=3)
    caps.drop_bounding()
    caps.keep_across_setuid()
    caps.clear_keep()
    caps.apply()
    drops = [Call("prctl", (PR_CAPBSET_DROP, n, 0, 0, 0)) for n in (2, 3)]
    assert sys.calls == [
        Call("capget", ()),
        *drops,
        Call("prctl", (PR_SET_KEEPCAPS, 1, 0, 0, 0)),
        Call("prctl", (PR_SET_KEEPCAPS, 0, 0, 0, 0)),
        Call("capset", (CapabilitySets(effective=1, permitted=3, inheritable=2),)),
        Call("prctl", (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)),
        Call("prctl", (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 1, 0, 0)),
    ]


def test_bounding_is_left_alone_without_cap_setpcap() -> None:
    sys = RecordingSyscalls(capability_sets=CapabilitySets(0, 0, 0))
    masks = CapabilityMasks(bounding=0, effective=0, inheritable=0, permitted=0, ambient=0)
    Capabilities(sys, masks, last=2).drop_bounding()
    assert sys.calls == [Call("capget", ())]


def test_a_failing_capset_is_an_error() -> None:
    sys = RecordingSyscalls(fail={"capset": 1})
    with pytest.raises(SystemCallError, match="capset"):
        masks = CapabilityMasks(bounding=0, effective=1, inheritable=0, permitted=1, ambient=0)
        Capabilities(sys, masks, last=1).apply()


def test_runc_order_ignores_ambient_errors_as_runc_does() -> None:
    sys = RecordingSyscalls(fail={"prctl": 1})  # EPERM: not in the inheritable set
    masks = CapabilityMasks(bounding=0b111, effective=0b1, inheritable=0, permitted=0b1,
                            ambient=0b101)
    RuncCapabilities(sys, masks, last=2).apply()
    assert sys.calls == [
        Call("capget", ()),
        Call("capset", (CapabilitySets(effective=1, permitted=1, inheritable=0),)),
        Call("prctl", (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)),
        Call("prctl", (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 0, 0, 0)),
        Call("prctl", (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 2, 0, 0)),
    ]

