"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets, as dockerd writes them.

* hostname: ``Config.Hostname`` or the short ID; with host networking the host's name.
* hosts: libnetwork's default lines, the container's own address line when it has one (not yet:
  until the Networks issue a container has only loopback), then ``ExtraHosts``; with host
  networking a copy of the host's /etc/hosts.
* resolv.conf: the host's, with loopback nameservers dropped (they mean nothing inside another
  network namespace), ``Dns``/``DnsSearch``/``DnsOptions`` replacing their lines. dockerd puts
  Google's public servers in when no nameserver is left; dockyard does not aim a container's
  queries anywhere on its own, so such a file has no nameserver line. With host networking the
  host's file is copied as it is.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
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
    try:
        text = host_file.read_text()
    except OSError:
        text = ""
    if host_network and not (dns or search or options):
        return text
    lines = []
    for line in text.splitlines():
        words = line.split()
        key = words[0] if words else ""
        if key == "nameserver" and (dns or (not host_network and _loopback(words[1:]))):
            continue
        if (key in ("search", "domain") and search) or (key == "options" and options):
            continue
        lines.append(line)
    lines += [f"nameserver {server}" for server in dns]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n" if lines else ""


def _loopback(words: Sequence[str]) -> bool:
    if not words:
        return True
    try:
        return ipaddress.ip_address(words[0].split("%")[0]).is_loopback
    except ValueError:
        return False
