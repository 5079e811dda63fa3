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
    # any DNS setting: libnetwork's Build (search, nameservers, options; comments gone)
    assert etcfiles.resolv_conf(False, ["1.1.1.1"], ["x.y"], ["ndots:2"], host_file=host) == (
        "search x.y\nnameserver 1.1.1.1\noptions ndots:2\n")
    assert etcfiles.resolv_conf(False, ["1.1.1.1"], host_file=host) == (
        "search lan\nnameserver 1.1.1.1\noptions edns0\n")
    assert etcfiles.resolv_conf(False, search=["."], host_file=host) == (
        "nameserver 10.1.2.3\noptions edns0\n")
    assert etcfiles.resolv_conf(True, search=["x.y"], host_file=host) == (
        "search x.y\nnameserver 127.0.0.53\nnameserver 10.1.2.3\noptions edns0\n")
    host.write_text("nameserver 127.0.0.1\n")  # only loopback: no server is made up
    assert etcfiles.resolv_conf(False, host_file=host) == ""


# What dockerd 20.10 wrote for these runs on a host whose resolv.conf is one nameserver line
# (127.0.0.11 there is the gateway here).
DOCKERD_USER_NETWORK = [
    ((), (), (), "nameserver 10.90.0.1\noptions ndots:0\n"),
    (("10.1.1.1", "10.2.2.2"), (), (), "nameserver 10.90.0.1\noptions ndots:0\n"),
    ((), ("corp.test",), ("timeout:3",),
     "search corp.test\nnameserver 10.90.0.1\noptions timeout:3 ndots:0\n"),
    (("10.1.1.1",), ("a.test", "b.test"), ("ndots:2", "attempts:1"),
     "search a.test b.test\nnameserver 10.90.0.1\noptions ndots:2 attempts:1\n"),
    (("10.1.1.1", "2001:db8::1"), (), (),
     "nameserver 10.90.0.1\nnameserver 2001:db8::1\noptions ndots:0\n"),
    ((), (".",), (), "nameserver 10.90.0.1\noptions ndots:0\n"),
    ((), (".", "x.test"), (), "search . x.test\nnameserver 10.90.0.1\noptions ndots:0\n"),
    ((), (), ("ndots:3", "ndots:1"), "nameserver 10.90.0.1\noptions ndots:3 ndots:1\n"),
    ((), (), ("ndots:0",), "nameserver 10.90.0.1\noptions ndots:0\n"),
    ((), (), ("ndots:1", "rotate"), "nameserver 10.90.0.1\noptions ndots:1 rotate\n"),
]
DOCKERD_DEFAULT_BRIDGE = [
    ((), (), (), "nameserver 10.255.255.53\n"),
    (("10.1.1.1", "10.2.2.2"), (), (), "nameserver 10.1.1.1\nnameserver 10.2.2.2\n"),
    ((), ("corp.test",), ("timeout:3",),
     "search corp.test\nnameserver 10.255.255.53\noptions timeout:3\n"),
    (("10.1.1.1",), ("a.test", "b.test"), ("ndots:2", "attempts:1"),
     "search a.test b.test\nnameserver 10.1.1.1\noptions ndots:2 attempts:1\n"),
    ((), (".",), (), "nameserver 10.255.255.53\n"),
]


def test_resolv_conf_as_dockerd_writes_it(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 10.255.255.53\n")
    for dns, search, options, expected in DOCKERD_USER_NETWORK:
        assert etcfiles.embedded_resolv_conf("10.90.0.1", dns, search, options, host) == \
            expected, (dns, search, options)
    for dns, search, options, expected in DOCKERD_DEFAULT_BRIDGE:
        assert etcfiles.resolv_conf(False, dns, search, options, host) == expected, \
            (dns, search, options)


def test_an_invalid_ndots_keeps_the_plain_file(tmp_path: Path) -> None:
    """dockerd fails to rebuild the file and the container asks its servers directly."""
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 10.255.255.53\n")
    for option in ("ndots:x", "ndots:-1", "ndots", "ndots:1:2"):
        assert etcfiles.embedded_resolv_conf("10.90.0.1", options=[option],
                                             host_file=host) is None
    assert etcfiles.embedded_resolv_conf("10.90.0.1", options=["ndots:1", "ndots:x"],
                                         host_file=host) == \
        "nameserver 10.90.0.1\noptions ndots:1 ndots:x\n"  # the first ndots decides


def test_the_embedded_file_keeps_the_hosts_search_options_and_ipv6_servers(
        tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("# made by hand\ndomain lan\nsearch one.test\nsearch two.test three.test\n"
                    "nameserver 127.0.0.53\nnameserver 10.0.0.53 # office\n"
                    "nameserver fd00::53\noptions edns0 ndots:2\n")
    assert etcfiles.embedded_resolv_conf("10.90.0.1", host_file=host) == (
        "search two.test three.test\nnameserver 10.90.0.1\nnameserver fd00::53\n"
        "options edns0 ndots:2\n")
    assert etcfiles.embedded_resolv_conf("10.90.0.1", ["10.1.1.1"], host_file=host) == (
        "search two.test three.test\nnameserver 10.90.0.1\noptions edns0 ndots:2\n")


def test_upstreams_are_the_ipv4_servers() -> None:
    assert etcfiles.upstreams(["10.1.1.1", "2001:db8::1", "fe80::1%eth0", "127.0.0.1"]) == \
        ("10.1.1.1", "127.0.0.1")
    assert etcfiles.parse("nameserver 10.0.0.1 extra\nnameserver bogus\noptions\n") == \
        etcfiles.ResolvConf()
