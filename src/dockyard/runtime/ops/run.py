"""``run``: create and start at once (no exec fifo: the init goes on as soon as the runtime has
written its state), then, unless ``--detach``, wait for it in the foreground and destroy the
container when it exits (``--keep`` leaves it stopped)."""

from __future__ import annotations

import os

from dockyard.runtime import foreground
from dockyard.runtime.ops.create import CreateOptions, create

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import StateRoot
    from dockyard.sys import Syscalls


def run(root: StateRoot, container_id: str, options: CreateOptions, sys: Syscalls, *,
        keep: bool = False) -> int:
    """The container's exit status (0 when detached)."""
    if options.detach:
        os.close(create(root, container_id, options, sys, start=True).pidfd)
        return 0
    mask = foreground.prepare(sys)
    try:
        created = create(root, container_id, options.replace(relay_terminal=True), sys,
                         start=True)
    except BaseException:
        foreground.restore(mask)
        raise
    if created.console >= 0:
        try:
            status = foreground.relay(created.pid, created.pidfd, created.console, mask)
        finally:
            os.close(created.pidfd)
    else:
        os.close(created.pidfd)
        status = foreground.wait(created.pid, mask)
    if not keep:
        from dockyard.runtime.ops.delete import destroy

        destroy(created.directory, created.directory.read(), sys)
    return status
