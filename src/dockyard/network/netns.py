"""Work inside a container's network namespace without moving the caller there.

A netlink socket acts in the namespace it was created in, for its whole life. So the container
side of an attach (the peer's address, link state, default route) needs one socket created
inside the container's namespace; after that any thread may use it.

``setns(CLONE_NEWNET)`` moves only the calling thread. The daemon is threaded, and a worker left
in a container's namespace by an exception would send the next request's traffic there, so
:func:`run_in` enters the namespace in a short-lived thread made for the purpose: the thread
switches, does its one job (open a socket, write a sysctl) and ends. Alternatives measured on
the 2-vCPU VM when this was written (median of 200 each):

- a fresh thread that setns's and opens the socket: about 0.1 ms;
- setns there and back in the calling thread: about 0.02 ms cheaper, but a failure between the
  two calls strands the thread;
- a forked helper: 1-23 ms depending on the daemon's size (fork copies the page tables), and
  forking a threaded process is unsafe;
- ``IFLA_TARGET_NETNSID`` from a host socket: needs an nsid assigned to every container's
  namespace first, covers links only (``RTM_NEWROUTE`` has no target-nsid attribute) and
  ``IFA_TARGET_NETNSID`` only dumps, so routes would still need a socket inside.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from dockyard.errors import NotFound, SystemCallError
from dockyard.network.netlink import Rtnl, new_socket
from dockyard.sys import CLONE_NEWNET, MNT_DETACH, MS_BIND, Syscalls

log = logging.getLogger(__name__)

T = TypeVar("T")


def open_netns(path: str) -> int:
    """An O_RDONLY fd of a namespace file (``/run/netns/x``, ``/proc/<pid>/ns/net``)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NotFound(f"network namespace {path} not found") from exc
    except OSError as exc:
        raise SystemCallError("open", exc.errno or 0, f"network namespace {path}") from exc


def in_thread(job: Callable[[], T]) -> T:
    """``job()`` run in a fresh thread (whose namespaces it may change), its result or error."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(job())
        except BaseException as exc:  # handed to the calling thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="dockyard-netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def run_in(netns_fd: int, job: Callable[[], T], syscalls: Syscalls) -> T:
    """``job()`` run in a fresh thread that first joins the namespace ``netns_fd``."""

    def entered() -> T:
        syscalls.setns(netns_fd, CLONE_NEWNET)
        return job()

    return in_thread(entered)


def socket_in(netns_fd: int, syscalls: Syscalls) -> socket.socket:
    """A NETLINK_ROUTE socket living in the namespace ``netns_fd``."""
    return run_in(netns_fd, new_socket, syscalls)


def rtnl_in(netns_fd: int, syscalls: Syscalls, where: str) -> Rtnl:
    """An :class:`Rtnl` acting in the namespace ``netns_fd`` (``where`` names it in errors)."""
    return Rtnl(socket_in(netns_fd, syscalls), where)


def create(path: str, syscalls: Syscalls) -> None:
    """A new network namespace pinned by a bind mount at ``path`` (``ip netns add``'s way).

    A thread of its own unshares CLONE_NEWNET (about 0.4 ms in the kernel) and binds its
    ``/proc/thread-self/ns/net`` onto ``path``, so the runtime can be handed the path
    (``linux.namespaces[].path``) and the network set up before the container's process exists.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    except OSError as exc:
        raise SystemCallError("open", exc.errno or 0, f"network namespace {path}") from exc
    os.close(fd)

    def pin() -> None:
        syscalls.unshare(CLONE_NEWNET)
        syscalls.mount("/proc/thread-self/ns/net", path, "none", MS_BIND)

    try:
        in_thread(pin)
    except BaseException:
        os.unlink(path)
        raise


def remove(path: str, syscalls: Syscalls) -> None:
    """Unpin and delete a namespace made by :func:`create`; a missing one is no error.

    The kernel dismantles the namespace, and the veths in it, once nothing holds it any more:
    asynchronously, without the 16-18 ms an explicit veth deletion costs.
    """
    if not os.path.exists(path):
        return
    try:
        syscalls.umount(path, MNT_DETACH)
    except SystemCallError as exc:
        if exc.errno != errno.EINVAL:  # not a mount point: a half-made namespace file
            raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
