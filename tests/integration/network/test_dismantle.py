"""A clean daemon stop without attached containers leaves no bridge or table behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.network.manager import Networks
from dockyard.network.nft import Nftables
from dockyard.sys.linux import LinuxSyscalls

from .conftest import ManagerFactory, container_id, settings, sh

pytestmark = pytest.mark.root


def link_exists(name: str) -> bool:
    return sh("ip", "link", "show", name, check=False).returncode == 0


def table_exists(name: str) -> bool:
    return any(item.get("table", {}).get("name") == name
               for item in Nftables().json("list tables"))


def test_dismantle_removes_the_kernel_side_and_open_makes_it_again(
        managers: ManagerFactory, netns: Callable[[], str]) -> None:
    networks = managers()
    front = networks.create("front")
    bridges = [networks.get("bridge").bridge, front.bridge]
    namespace = netns()
    networks.attach(container_id(1), f"/run/netns/{namespace}", "front")
    assert networks.dismantle() is False  # a container is attached: everything stays
    assert all(link_exists(b) for b in bridges) and table_exists(managers.tag)

    networks.release(container_id(1))
    assert networks.dismantle() is True
    assert not any(link_exists(b) for b in bridges)
    assert not table_exists(managers.tag)
    managers.abandon(networks)

    again = managers()  # the next start: same records, same bridges
    assert [n.name for n in again.networks()] == ["bridge", "front"]
    assert again.get("front").id == front.id
    assert all(link_exists(b) for b in bridges) and table_exists(managers.tag)


def test_a_long_bridge_prefix_shortens_the_id_part(tmp_path: Path, tag: str) -> None:
    networks = Networks(tmp_path / "config", tmp_path / "state", LinuxSyscalls(),
                        settings=settings(tag, bridge_prefix=f"{tag}-"))
    try:
        networks.open()
        made = networks.create("tagged")
        assert made.bridge == f"{tag}-" + made.id[:15 - len(tag) - 1]
        assert link_exists(made.bridge)
    finally:
        networks.destroy()
        networks.close()
