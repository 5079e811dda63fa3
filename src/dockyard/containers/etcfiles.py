"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets, as dockerd writes them.

* hostname: ``Config.Hostname`` or the short ID; with host networking the host's name.
* hosts: libnetwork's default lines, the container's own address line when it has one, then
  ``ExtraHosts``; with host networking a copy of the host's /etc/hosts.
* resolv.conf (libnetwork's ``setupDNS``): with ``Dns``, ``DnsSearch`` or ``DnsOptions`` (or
  the daemon's ``--dns``) a file made of three parts, ``search``, ``nameserver`` lines and
  ``options``, each the configured one or else the host's (``--dns-search .`` means no search
  line); without any, the host's file with its loopback nameservers dropped (they mean nothing
  inside another network namespace). dockerd puts Google's public servers in when no
  nameserver is left; dockyard does not aim a container's queries anywhere on its own, so such a
  file has no nameserver line. With host networking and no DNS settings the host's file is
  copied as it is (loopback servers included: they are the container's too).
* resolv.conf of a container that uses an embedded DNS server (libnetwork's ``rebuildDNS``):
  the file above rebuilt with that server as the only IPv4 nameserver (its IPv6 nameservers
  stay, the server forwards over IPv4 only), the same search line, and the options plus
  ``ndots:0`` unless one of them sets ``ndots``. The other servers are the embedded server's
  upstreams (:func:`upstreams`), not the container's.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HOSTS_DEFAULT = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
HOST_RESOLV = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")


def hostname(container_id: str, configured: str, host_network: bool) -> str:
    if configured:
        return configured
    if host_network:
        return socket.gethostname()
    return container_id[:12]


def hosts(extra_hosts: Sequence[str], host_network: bool, own: tuple[str, str] | None = None,
          host_file: Path = HOST_HOSTS) -> str:
    """The hosts file; ``own`` is (address, names) of the container's interface."""
    if host_network:
        try:
            text = host_file.read_text()
        except OSError:
            text = HOSTS_DEFAULT
    else:
        text = HOSTS_DEFAULT
        if own is not None:
            text += f"{own[0]}\t{own[1]}\n"
    for entry in extra_hosts:
        name, _, address = entry.partition(":")
        text += f"{address}\t{name}\n"
    return text


def resolv_conf(host_network: bool, dns: Sequence[str] = (), search: Sequence[str] = (),
                options: Sequence[str] = (), host_file: Path = HOST_RESOLV) -> str:
    """The file dockerd writes for a container that asks the servers in it directly."""
    text = _read(host_file)
    if dns or search or options:
        found = parse(text)
        servers = [s for s in found.nameservers if host_network or not _loopback(s)]
        return build(dns or servers, search or found.search, options or found.options)
    if host_network:
        return text
    lines = [line for line in text.splitlines() if not _loopback_line(line)]
    return "\n".join(lines) + "\n" if lines else ""


def embedded_resolv_conf(nameserver: str, dns: Sequence[str] = (), search: Sequence[str] = (),
                         options: Sequence[str] = (), host_file: Path = HOST_RESOLV) -> str | None:
    """The file of a container whose resolver is the embedded DNS at ``nameserver``; None when
    an ``ndots`` option is not ``ndots:<n>`` with n >= 0 (dockerd then fails to rebuild the file
    and the container keeps :func:`resolv_conf`'s, asking its servers directly)."""
    found = parse(resolv_conf(False, dns, search, options, host_file))
    wanted = list(found.options)
    for option in wanted:
        if "ndots" in option:
            _, sep, value = option.partition(":")
            if not sep or not (value.isascii() and value.isdigit()):
                return None
            break
    else:
        wanted.append("ndots:0")
    ipv6 = [s for s in found.nameservers if ":" in s]
    return build([nameserver, *ipv6], found.search, wanted)


def upstreams(dns: Sequence[str]) -> tuple[str, ...]:
    """The IPv4 servers of ``dns``: where an embedded DNS server (which speaks IPv4 to its
    upstreams) forwards the queries of a container with these ``--dns`` servers."""
    return tuple(s for s in dns if _ipv4(s))


@dataclass(frozen=True, slots=True)
class ResolvConf:
    """What libnetwork's resolvconf package reads from a file: every nameserver, and the last
    search and options lines (text after ``#`` is a comment)."""

    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse(text: str) -> ResolvConf:
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.partition("#")[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) == 2 and _address(words[1]):
            nameservers.append(words[1])
        elif words[0] == "search":
            search = words[1:]
        elif words[0] == "options":
            options = words[1:]
    return ResolvConf(tuple(nameservers), tuple(search), tuple(options))


def build(nameservers: Sequence[str], search: Sequence[str], options: Sequence[str]) -> str:
    """libnetwork's ``resolvconf.Build``: search, nameservers, options; ``search .`` is none."""
    text = ""
    if search and " ".join(search).strip() != ".":
        text += "search " + " ".join(search) + "\n"
    text += "".join(f"nameserver {server}\n" for server in nameservers)
    if options and " ".join(options).strip():
        text += "options " + " ".join(options) + "\n"
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _loopback_line(line: str) -> bool:
    words = line.split()
    return bool(words) and words[0] == "nameserver" and (len(words) < 2 or _loopback(words[1]))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None


def _loopback(server: str) -> bool:
    address = _address(server)
    return address is not None and address.is_loopback


def _ipv4(server: str) -> bool:
    return isinstance(_address(server), ipaddress.IPv4Address)
