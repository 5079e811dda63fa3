"""``POST /containers/{id}/pause`` and ``/unpause``: freeze and thaw a container's processes
through its runtime (the library runtime's ``pause``/``resume`` on its state root, ``runc`` or
``crun pause``/``resume`` with theirs), as dockerd's ``containerPause`` does: the state
becomes ``paused`` (Running stays true, ps shows "Up 5 seconds (Paused)"), a ``pause`` or
``unpause`` event follows, and dockerd's words for a container in the wrong state. A paused
container that is signalled (stop, kill, rm -f) is thawed after the signal, so that it arrives
(the container service's ``on_paused_signal``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dockyard.containers.record import PAUSED, RESTARTING, RUNNING, Container
from dockyard.errors import Conflict, DockyardError, Internal
from dockyard.services.containers import ContainerService

log = logging.getLogger(__name__)

RUNTIME_ROOTS = {"dockyard": "runtime", "runc": "runc", "crun": "crun"}


class Pauser:
    def __init__(self, service: ContainerService, exec_root: Path,
                 binaries: Mapping[str, str]) -> None:
        self.service = service
        self.exec_root = exec_root
        self.binaries = dict(binaries)
        service.on_paused_signal = self._thaw_signalled

    async def pause(self, ref: str) -> None:
        await self._change(ref, frozen=True)

    async def unpause(self, ref: str) -> None:
        await self._change(ref, frozen=False)

    async def set(self, container_id: str, frozen: bool) -> None:
        """For commit's ``pause``: freeze or thaw, with the events."""
        await self._change(container_id, frozen=frozen)

    async def _change(self, ref: str, *, frozen: bool) -> None:
        service = self.service
        container = service.get(ref)
        live = service.live(container.id)
        async with live.lock:
            container = service.get(container.id)
            check(container, frozen=frozen)
            await asyncio.to_thread(self._freeze, container, frozen)
            changed = container.with_state(status=PAUSED if frozen else RUNNING)
            service._containers[container.id] = changed
            await asyncio.to_thread(service.store.save, changed)
        service._emit("pause" if frozen else "unpause", changed)

    async def _thaw_signalled(self, container: Container) -> None:
        try:
            await self._change(container.id, frozen=False)
        except DockyardError as exc:  # it may have gone meanwhile
            log.debug("thawing %s after a signal: %s", container.id[:12], exc)

    def _freeze(self, container: Container, frozen: bool) -> None:
        runtime = container.host.runtime or "dockyard"
        root = self.exec_root / RUNTIME_ROOTS.get(runtime, runtime)
        if runtime == "dockyard":
            from dockyard.runtime.ops.pause import pause, resume
            from dockyard.runtime.state import StateRoot

            (pause if frozen else resume)(StateRoot(str(root)), container.id)
            return
        binary = self.binaries.get(runtime)
        if binary is None:
            raise Internal(f"unknown runtime {runtime} of container {container.id}")
        verb = "pause" if frozen else "resume"
        done = subprocess.run([binary, "--root", str(root), verb, container.id],
                              capture_output=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or [""]
            raise Internal(f"{os.path.basename(binary)} {verb} {container.id}: {lines[-1]}")


def check(container: Container, *, frozen: bool) -> None:
    """dockerd's refusals, in its words."""
    status = container.state.status
    if frozen:
        if status == PAUSED:
            raise Conflict(f"Container {container.id} is already paused")
        if status == RESTARTING:
            raise Conflict(f"Container {container.id} is restarting, wait until the container "
                           "is running")
        if status != RUNNING:
            raise Conflict(f"Container {container.id} is not running")
    elif status != PAUSED:
        raise Conflict(f"Container {container.id} is not paused")
