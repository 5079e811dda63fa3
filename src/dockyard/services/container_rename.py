"""``POST /containers/{id}/rename?name=``: a container's new name, as dockerd's
``ContainerRename`` gives it (its checks and words, a ``rename`` event with ``oldName``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from dockyard.containers.config import check_name
from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.services.containers import ContainerService


async def rename(service: ContainerService, ref: str, new_name: str) -> None:
    if not ref or not new_name:
        raise InvalidArgument("Neither old nor new names may be empty")
    wanted = new_name if new_name.startswith("/") else "/" + new_name
    container = service.get(ref)
    live = service.live(container.id)
    async with live.lock:  # no start, exit or removal rewrites the record meanwhile
        container = service.get(container.id)
        old = container.name
        if old == wanted:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        try:
            check_name(wanted)
        except DockyardError as exc:
            raise type(exc)(f"Error when allocating new name: {exc}") from None
        taken = service._names.get(wanted)
        if taken is not None:
            raise Conflict(
                f'Error when allocating new name: Conflict. The container name "{wanted}" is '
                f'already in use by container "{taken}". You have to remove (or rename) that '
                "container to be able to reuse that name.")
        renamed = replace(container, name=wanted)
        service._names[wanted] = container.id
        try:
            await asyncio.to_thread(service.store.save, renamed)
        except BaseException:
            del service._names[wanted]
            raise
        service._names.pop(old, None)
        service._containers[container.id] = renamed
    service._emit("rename", renamed, oldName=old)
