"""Firewall against a fake libnftables: the batches it sends and how it reads listings back."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dockyard.network.firewall import Dnat, Firewall, NetworkRules
from dockyard.network.nft import NftError

A = ipaddress.IPv4Address
NET = ipaddress.IPv4Network


class FakeNft:
    """Records batches; answers listings from ``listings`` (command -> JSON objects)."""

    def __init__(self, listings: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.listings = listings or {}
        self.batches: list[str] = []
        self.refuse: set[str] = set()

    def run(self, commands: str, what: str = "", *, output: int = 0) -> str:
        for line in commands.splitlines():
            if any(r in line for r in self.refuse):
                raise NftError(what, "Error: Could not process rule: No such file or directory",
                               2)
        self.batches.append(commands)
        return ""

    def json(self, commands: str, what: str = "") -> list[dict[str, Any]]:
        if commands not in self.listings:
            raise NftError(what, "Error: No such file or directory", 2)
        return self.listings[commands]


def test_ensure_creates_the_table_once() -> None:
    nft = FakeNft({"list tables": []})
    Firewall(nft, "dyt").ensure()
    assert len(nft.batches) == 1
    batch = nft.batches[0].splitlines()
    assert batch[1] == "add table ip dyt"
    assert "add rule ip dyt nat_output fib daddr type local jump hostports" in batch
    nft.listings["list tables"] = [{"table": {"family": "ip", "name": "dyt", "handle": 9}}]
    Firewall(nft, "dyt").ensure()
    assert len(nft.batches) == 1


def test_a_network_is_elements_of_sets() -> None:
    nft = FakeNft({"list chains ip": []})
    Firewall(nft, "dyt").add_network(NetworkRules("dy-1", NET("10.90.0.0/24")))
    Firewall(nft, "dyt").add_network(NetworkRules("dy-2", NET("10.90.1.0/24"), internal=True,
                                                  icc=False))
    assert nft.batches == [
        'add element ip dyt bridges { "dy-1" }\n'
        'add element ip dyt same { "dy-1" . "dy-1" }\n'
        'add element ip dyt subnets { 10.90.0.0/24 }\n'
        'add element ip dyt masq { 10.90.0.0/24 }',
        'add element ip dyt bridges { "dy-2" }\n'
        'add element ip dyt same { "dy-2" . "dy-2" }\n'
        'add element ip dyt subnets { 10.90.1.0/24 }\n'
        'add element ip dyt internal { "dy-2" }\n'
        'add element ip dyt no_icc { "dy-2" }',
    ]


def _chains(*names: str) -> list[dict[str, Any]]:
    return [{"chain": {"family": "ip", "table": "filter", "name": n}} for n in names]


def test_dockerd_user_chain_gets_plain_accepts() -> None:
    nft = FakeNft({"list chains ip": _chains("FORWARD", "DOCKER-USER"),
                   "list chain ip filter DOCKER-USER": []})
    Firewall(nft, "dyt").add_network(NetworkRules("dy-1", NET("10.90.0.0/24"), masquerade=False))
    assert nft.batches[0].splitlines()[3:] == [
        'insert rule ip filter DOCKER-USER oifname "dy-1" counter accept comment "dyt dy-1"',
        'insert rule ip filter DOCKER-USER iifname "dy-1" counter accept comment "dyt dy-1"',
    ]


def test_without_docker_user_the_forward_chain_is_used_and_rules_are_not_doubled() -> None:
    rules = [{"rule": {"handle": 7, "comment": "dyt dy-1"}},
             {"rule": {"handle": 8, "comment": "other dy-1"}}, {"rule": {"handle": 9}}]
    nft = FakeNft({"list chains ip": _chains("FORWARD"), "list chain ip filter FORWARD": rules})
    fw = Firewall(nft, "dyt")
    fw.add_network(NetworkRules("dy-1", NET("10.90.0.0/24")))
    assert "insert rule" not in nft.batches[0]
    assert fw.compat_bridges() == {"dy-1"}
    fw.remove_network(NetworkRules("dy-1", NET("10.90.0.0/24")))
    assert nft.batches[-1].splitlines()[-1] == "delete rule ip filter FORWARD handle 7"


def test_remove_network_is_one_batch_of_what_add_network_added() -> None:
    nft = FakeNft({"list chains ip": _chains("FORWARD", "DOCKER-USER"),
                   "list chain ip filter DOCKER-USER": [
                       {"rule": {"handle": 4, "comment": "dyt dy-2"}},
                       {"rule": {"handle": 5, "comment": "dyt dy-2"}},
                       {"rule": {"handle": 6, "comment": "dyt dy-3"}}]})
    nft.refuse = {"masq"}  # never added to an internal network: not named, so no refusal
    Firewall(nft, "dyt").remove_network(NetworkRules("dy-2", NET("10.90.1.0/24"), internal=True))
    assert nft.batches == [
        'delete element ip dyt bridges { "dy-2" }\n'
        'delete element ip dyt same { "dy-2" . "dy-2" }\n'
        'delete element ip dyt subnets { 10.90.1.0/24 }\n'
        'delete element ip dyt internal { "dy-2" }\n'
        "delete rule ip filter DOCKER-USER handle 4\n"
        "delete rule ip filter DOCKER-USER handle 5",
    ]


def test_remove_network_goes_element_by_element_when_some_are_gone() -> None:
    nft = FakeNft({"list chains ip": []})
    nft.refuse = {"masq"}
    Firewall(nft, "dyt").remove_network(NetworkRules("dy-1", NET("10.90.0.0/24")))
    assert nft.batches == [
        'delete element ip dyt bridges { "dy-1" }',
        'delete element ip dyt same { "dy-1" . "dy-1" }',
        "delete element ip dyt subnets { 10.90.0.0/24 }",
    ]


PORTS = [Dnat("tcp", 8080, A("10.90.0.2"), 80),
         Dnat("udp", 5353, A("10.90.0.3"), 53, A("127.0.0.1"))]


def test_publish_and_unpublish_are_one_batch_each() -> None:
    nft = FakeNft()
    fw = Firewall(nft, "dyt")
    fw.publish(PORTS)
    fw.unpublish(PORTS)
    fw.publish([])
    assert nft.batches == [
        "add element ip dyt ports_any { tcp . 8080 : 10.90.0.2 . 80 }\n"
        "add element ip dyt ports_ip { 127.0.0.1 . udp . 5353 : 10.90.0.3 . 53 }",
        "delete element ip dyt ports_any { tcp . 8080 }\n"
        "delete element ip dyt ports_ip { 127.0.0.1 . udp . 5353 }",
    ]


def test_unpublish_falls_back_to_one_by_one_when_some_are_gone() -> None:
    nft = FakeNft()
    nft.refuse = {"tcp . 8080"}
    Firewall(nft, "dyt").unpublish(PORTS)
    assert nft.batches == ["delete element ip dyt ports_ip { 127.0.0.1 . udp . 5353 }"]


def test_published_reads_the_maps_back() -> None:
    # as libnftables 1.0.6 prints them with numeric output
    nft = FakeNft({
        "list map ip dyt ports_any": [{"metainfo": {}}, {"map": {
            "name": "ports_any",
            "elem": [[{"concat": [6, 8080]}, {"concat": ["10.90.0.2", 80]}]]}}],
        "list map ip dyt ports_ip": [{"map": {
            "name": "ports_ip",
            "elem": [[{"concat": ["127.0.0.1", 17, 5353]}, {"concat": ["10.90.0.3", 53]}]]}}],
        "list set ip dyt bridges": [{"set": {"elem": ["dy-1", "dy-2"]}}],
        "list set ip dyt subnets": [{"set": {"elem": [{"prefix": {"addr": "10.90.0.0",
                                                                  "len": 24}}]}}],
    })
    fw = Firewall(nft, "dyt")
    assert fw.published() == PORTS
    assert fw.bridges() == {"dy-1", "dy-2"}
    assert fw.subnets() == {NET("10.90.0.0/24")}


def test_other_errors_are_raised() -> None:
    nft = FakeNft()

    def broken(commands: str, what: str = "", *, output: int = 0) -> str:
        raise NftError(what, "Error: Operation not permitted", 1)

    nft.run = broken  # type: ignore[method-assign]
    with pytest.raises(NftError):
        Firewall(nft, "dyt").unpublish(PORTS)
