"""``GET /containers/{id}/top?ps_args=``: the container's processes, as dockerd's
``ContainerTop`` lists them: the pids of its cgroup, ``ps -ef`` read from /proc for the
default arguments (:mod:`dockyard.containers.processes`), ``ps <ps_args> -q <pids>`` (or,
when ps refuses ``-q`` with those arguments, ``ps <ps_args>``) for others, and a ``top``
event."""

from __future__ import annotations

import asyncio
import logging
import os

from dockyard.containers import processes
from dockyard.errors import Conflict, Internal
from dockyard.services.containers import ContainerService

log = logging.getLogger(__name__)

DEFAULT_ARGS = "-ef"


async def top(service: ContainerService, ref: str, ps_args: str = "") -> dict[str, object]:
    ps_args = ps_args or DEFAULT_ARGS
    processes.check_ps_args(ps_args)
    container = service.get(ref)
    if container.state.status == "restarting":
        raise Conflict(f"Container {container.id} is restarting, wait until the container is "
                       "running")
    if not container.state.running:
        raise Conflict(f"Container {container.id} is not running")
    try:
        pids = await asyncio.to_thread(processes.container_pids, container.state.pid)
    except OSError as exc:
        raise Conflict(f"Container {container.id} is not running") from exc
    if ps_args == DEFAULT_ARGS:
        table = await asyncio.to_thread(processes.ps_ef, pids)
    else:
        table = processes.parse_ps_output(await _ps(ps_args, pids), pids)
    service._emit("top", container)
    return table.to_json()


async def _ps(ps_args: str, pids: list[int]) -> str:
    args = ps_args.split(" ")
    selected = ["-q", ",".join(str(p) for p in pids)]
    code, out, err = await _run(*args, *selected)
    if code != 0:  # some options (f) do not go with -q
        code, out, err = await _run(*args)
    if code != 0:
        first = err.split("\n", 1)[0] or f"exit status {code}"
        raise Internal(f"ps: {first}")
    return out


async def _run(*args: str) -> tuple[int, str, str]:
    log.debug("ps %s", " ".join(args))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # full width
    process = await asyncio.create_subprocess_exec(
        "ps", *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
