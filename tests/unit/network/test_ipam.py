"""Ipam: pools, allocation order, static addresses, persistence and crash leftovers."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import (
    AlreadyExists,
    Conflict,
    DataCorrupt,
    InvalidArgument,
    NotFound,
    SystemCallError,
)
from dockyard.network.ipam import GATEWAY_OWNER, Ipam, Pool

A = ipaddress.IPv4Address


def test_pool_defaults_the_gateway_to_the_first_host() -> None:
    assert Pool.parse("10.1.0.0/16") == Pool(ipaddress.IPv4Network("10.1.0.0/16"), A("10.1.0.1"))


@pytest.mark.parametrize(("subnet", "gateway", "ip_range", "message"), [
    ("10.1.0.0/33", "", "", "invalid pool"),
    ("10.1.0.1/16", "", "", "invalid pool"),
    ("10.1.0.0/31", "", "", "subnet 10.1.0.0/31 is too small for a bridge network"),
    ("10.1.0.0/16", "10.2.0.1", "", "gateway 10.2.0.1 is not a host address of subnet"),
    ("10.1.0.0/16", "10.1.255.255", "", "gateway 10.1.255.255 is not a host address"),
    ("10.1.0.0/16", "", "10.2.0.0/24", "ip range 10.2.0.0/24 is not inside subnet 10.1.0.0/16"),
])
def test_pool_rejects(subnet: str, gateway: str, ip_range: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Pool.parse(subnet, gateway, ip_range)
    assert str(caught.value).startswith(message)


def test_addresses_follow_the_last_one_handed_out(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/29"))
    got = [ipam.allocate("n1", f"c{i}") for i in range(3)]
    assert got == [A("10.1.0.2"), A("10.1.0.3"), A("10.1.0.4")]
    ipam.release("n1", A("10.1.0.2"))
    assert ipam.allocate("n1", "c3") == A("10.1.0.5")  # not the one just freed
    assert ipam.allocate("n1", "c4") == A("10.1.0.6")
    assert ipam.allocate("n1", "c5") == A("10.1.0.2")  # wrapped around
    with pytest.raises(Conflict) as caught:
        ipam.allocate("n1", "c6")
    assert str(caught.value) == "no free address left in 10.1.0.0/29 of network n1"


def test_dynamic_addresses_come_from_the_range_static_ones_from_the_subnet(
        tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24", "10.1.0.254", "10.1.0.128/30"))
    assert [ipam.allocate("n1", f"c{i}") for i in range(3)] == \
        [A("10.1.0.128"), A("10.1.0.129"), A("10.1.0.130")]
    assert ipam.allocate("n1", "s", A("10.1.0.7")) == A("10.1.0.7")
    assert ipam.allocations("n1") == {
        A("10.1.0.7"): "s", A("10.1.0.128"): "c0", A("10.1.0.129"): "c1",
        A("10.1.0.130"): "c2", A("10.1.0.254"): GATEWAY_OWNER}


def test_requested_addresses(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24"))
    ipam.reserve("n1", A("10.1.0.9"), "aux")
    ipam.reserve("n1", A("10.1.0.9"), "aux")  # the same owner again: no error
    with pytest.raises(Conflict) as caught:
        ipam.allocate("n1", "c1", A("10.1.0.9"))
    assert str(caught.value) == "address 10.1.0.9 is already in use (by aux)"
    with pytest.raises(Conflict):
        ipam.allocate("n1", "c1", A("10.1.0.1"))
    for bad in ("10.1.0.0", "10.1.0.255", "10.2.0.5"):
        with pytest.raises(InvalidArgument):
            ipam.allocate("n1", "c1", A(bad))


def test_release_owner_and_the_gateway_stays(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24"))
    ipam.allocate("n1", "c1")
    ipam.allocate("n1", "c1", A("10.1.0.50"))
    ipam.allocate("n1", "c2")
    assert ipam.release_owner("n1", "c1") == [A("10.1.0.2"), A("10.1.0.50")]
    ipam.release("n1", A("10.1.0.1"))
    assert ipam.allocations("n1") == {A("10.1.0.1"): GATEWAY_OWNER, A("10.1.0.3"): "c2"}
    with pytest.raises(InvalidArgument):
        ipam.release_owner("n1", GATEWAY_OWNER)


def test_state_survives_a_new_instance_and_stray_temps_go(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24"))
    ipam.allocate("n1", "c1")
    (tmp_path / ".tmp-n1.json").write_text("{half")
    again = Ipam(tmp_path)
    assert again.allocations("n1") == {A("10.1.0.1"): GATEWAY_OWNER, A("10.1.0.2"): "c1"}
    assert again.allocate("n1", "c2") == A("10.1.0.3")
    assert sorted(os.listdir(tmp_path)) == ["n1.json"]
    assert json.loads((tmp_path / "n1.json").read_text()) == {
        "allocated": {"10.1.0.1": "gateway", "10.1.0.2": "c1", "10.1.0.3": "c2"},
        "gateway": "10.1.0.1", "ip_range": "", "last": int(A("10.1.0.3")),
        "subnet": "10.1.0.0/24"}


def test_create_delete_and_missing(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24"))
    with pytest.raises(AlreadyExists):
        ipam.create("n1", Pool.parse("10.1.0.0/24"))
    assert ipam.networks() == ["n1"]
    ipam.delete("n1")
    assert ipam.networks() == []
    with pytest.raises(NotFound):
        ipam.allocate("n1", "c1")


def test_a_corrupt_file_is_data_corrupt(tmp_path: Path) -> None:
    (tmp_path / "n1.json").write_text('{"subnet": "nope"}')
    with pytest.raises(DataCorrupt):
        Ipam(tmp_path).allocations("n1")


def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create("n1", Pool.parse("10.1.0.0/24"))
    (tmp_path / ".tmp-n1.json").mkdir()  # the temp file cannot be opened: EISDIR
    with pytest.raises(SystemCallError) as caught:
        ipam.allocate("n1", "c1")
    assert caught.value.errno == errno.EISDIR
    (tmp_path / ".tmp-n1.json").rmdir()
    assert ipam.allocate("n1", "c1") == A("10.1.0.2")
    assert ipam.allocations("n1") == {A("10.1.0.1"): GATEWAY_OWNER, A("10.1.0.2"): "c1"}


operations = st.lists(st.tuples(st.sampled_from(["alloc", "static", "release", "owner"]),
                                st.integers(0, 5), st.integers(0, 15)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_no_address_is_ever_held_twice(tmp_path_factory: pytest.TempPathFactory,
                                       ops: list[tuple[str, int, int]]) -> None:
    root = tmp_path_factory.mktemp("ipam")
    ipam = Ipam(root)
    ipam.create("n", Pool.parse("10.9.0.0/28"))
    model: dict[A, str] = {A("10.9.0.1"): GATEWAY_OWNER}
    for op, who, host in ops:
        owner, ip = f"c{who}", A(int(A("10.9.0.0")) + host)
        try:
            if op == "alloc":
                got = ipam.allocate("n", owner)
                assert got not in model
                model[got] = owner
            elif op == "static":
                ipam.allocate("n", owner, ip)
                assert model.get(ip, owner) == owner
                model[ip] = owner
            elif op == "release":
                ipam.release("n", ip)
                if model.get(ip) != GATEWAY_OWNER:
                    model.pop(ip, None)
            else:
                ipam.release_owner("n", owner)
                model = {k: v for k, v in model.items() if v != owner}
        except Conflict:
            assert (op == "alloc" and len(model) == 14) or model.get(ip) not in (None, owner)
        except InvalidArgument:
            assert host in (0, 15)
        assert ipam.allocations("n") == model
    assert Ipam(root).allocations("n") == model
