"""RUN: the process a step runs, and the executor interface that runs it.

The builder does not start containers itself. It prepares the step's snapshot and describes
the process (:class:`ProcessSpec`); a :class:`RunExecutor`, injected by the services layer,
runs it in a container on that root filesystem and returns its exit status. The executor
mounts the rootfs itself, gives the process the host's /etc/resolv.conf and /etc/hosts (host
networking until bridge networks exist, or no network at all), streams its output to the
sinks, kills it when ``cancel`` is set, and leaves no trace of its own mount points in the
rootfs.

What dockerd 20.10 does and this module repeats (``dispatchRun``):

* the command is the shell form run by the shell (SHELL, default ``/bin/sh -c``), or the exec
  form as it is; no entrypoint;
* its environment is the image's ENV plus the build args in scope that ENV does not set;
* its history line and cache key start with ``|<n> name=value ...`` for those args, sorted
  (undeclared proxy args are passed but not recorded);
* a non-zero exit fails the build with ``The command '<cmd>' returned a non-zero code: <n>``.

Heredocs (``RUN <<EOF``) run as BuildKit runs them: a lone heredoc is the script, anything
else is handed to the shell with the heredoc bodies appended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.build.buildargs import PROXY_ARGS
from dockyard.build.instructions import Run
from dockyard.build.steps import shell_of
from dockyard.errors import Unsupported
from dockyard.mount import Mount
from dockyard.oci.config import ContainerConfig

Sink = Callable[[bytes], None]
_DOCKERD_PROXIES = frozenset(PROXY_ARGS) - {"ALL_PROXY", "all_proxy"}


@dataclass(frozen=True, slots=True)
class BindMount:
    """A host path mounted into the step's container (cache dirs, secrets, context binds)."""

    source: str
    target: str
    readonly: bool = True


@dataclass(frozen=True, slots=True)
class TmpfsMount:
    target: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """The process of a RUN step. ``network`` is "host" or "none"; ``user`` is the image's
    USER (``name``, ``uid``, ``name:group``...), resolved by the executor in the rootfs."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    user: str = ""
    cwd: str = "/"
    network: str = "host"
    hostname: str = ""
    mounts: tuple[BindMount | TmpfsMount, ...] = ()


class RunExecutor(Protocol):
    """Runs one RUN step's process in a container on ``rootfs``; returns its exit status."""

    def run(self, rootfs: Sequence[Mount], process: ProcessSpec, stdout: Sink, stderr: Sink,
            cancel: threading.Event) -> int: ...


class NoExecutor:
    """The executor of a daemon that cannot run containers: every RUN fails, saying so."""

    def run(self, rootfs: Sequence[Mount], process: ProcessSpec, stdout: Sink, stderr: Sink,
            cancel: threading.Event) -> int:
        raise Unsupported("RUN needs containers, and this daemon has no container runtime "
                          "wired to the builder")


def command(run: Run, config: ContainerConfig) -> tuple[str, ...]:
    """The command line the step runs (``resolveCmdLine``, heredocs as BuildKit runs them)."""
    if not run.shell_form:
        return tuple(run.command)
    line = run.command[0] if run.command else ""
    if run.heredocs:
        lone = line.strip()
        if len(run.heredocs) == 1 and lone.startswith("<<") and " " not in lone:
            line = run.heredocs[0].data
        else:
            line = line + "".join(f"\n{h.data}{h.name}" for h in run.heredocs)
    return (*shell_of(config), line)


def build_arg_env(values: Mapping[str, str], env: Sequence[str]) -> list[str]:
    """The build args a RUN sees (dockerd's ``FilterAllowed``): those ENV does not set."""
    set_by_env = {item.split("=", 1)[0] for item in env}
    return [f"{name}={value}" for name, value in values.items() if name not in set_by_env]


def recorded(args: Sequence[str], declared: set[str]) -> tuple[str, ...]:
    """The ``|<n> name=value ...`` prefix of the history line (``prependEnvOnCmd``), when the
    step sees any build arg: every arg except the proxy args no ARG declared, sorted."""
    if not args:
        return ()
    kept = sorted(a for a in args
                  if a.split("=", 1)[0] not in _DOCKERD_PROXIES or a.split("=", 1)[0] in declared)
    return (f"|{len(kept)}", *kept)


def failure(cmd: Sequence[str], code: int) -> str:
    return f"The command '{' '.join(cmd)}' returned a non-zero code: {code}"
