"""/etc/hostname, hosts and resolv.conf as dockerd writes them."""

from __future__ import annotations

from pathlib import Path

from dockyard.containers import etcfiles


def test_hostname() -> None:
    assert etcfiles.hostname("0123456789abcdef", "", False) == "0123456789ab"
    assert etcfiles.hostname("0123456789abcdef", "web", False) == "web"


def test_hosts(tmp_path: Path) -> None:
    text = etcfiles.hosts(["db:10.0.0.5"], False)
    assert text == etcfiles.HOSTS_DEFAULT + "10.0.0.5\tdb\n"
    host_file = tmp_path / "hosts"
    host_file.write_text("127.0.0.1 localhost myhost\n")
    assert etcfiles.hosts([], True, host_file=host_file) == "127.0.0.1 localhost myhost\n"


def test_resolv_conf(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("# comment\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nsearch lan\n"
                    "options edns0\n")
    assert etcfiles.resolv_conf(False, host_file=host) == (
        "# comment\nnameserver 10.1.2.3\nsearch lan\noptions edns0\n")
    assert etcfiles.resolv_conf(True, host_file=host) == host.read_text()
    assert etcfiles.resolv_conf(False, ["1.1.1.1"], ["x.y"], ["ndots:2"], host_file=host) == (
        "# comment\nnameserver 1.1.1.1\nsearch x.y\noptions ndots:2\n")
    host.write_text("nameserver 127.0.0.1\n")  # only loopback: no server is made up
    assert etcfiles.resolv_conf(False, host_file=host) == ""
