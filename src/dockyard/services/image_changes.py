"""``docker import --change`` (and later ``commit --change``): Dockerfile instructions applied to
a container config, as dockerd 20.10's ``BuildFromConfig`` does.

The changes are parsed by the Dockerfile front end (:func:`dockyard.build.parse_changes`: one
Dockerfile of CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER, VOLUME and
WORKDIR lines, all checked before any applies) and expanded by its :class:`~dockyard.build.Expander`
against the variables the config has when each instruction runs. Here each instruction changes the
config as the builder's dispatcher would: shell forms run with the config's shell or
``/bin/sh -c``, an ENTRYPOINT clears a CMD that these changes did not set, EXPOSE takes ranges,
WORKDIR is relative to the previous one.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.build import DockerfileError, Expander, parse_changes
from dockyard.build.chars import go_quote
from dockyard.build.instructions import (
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Onbuild,
    User,
    Volume,
    Workdir,
)
from dockyard.errors import InvalidArgument
from dockyard.oci import config as oci

DEFAULT_SHELL = ("/bin/sh", "-c")
_PORT = re.compile(r"([0-9]+)(?:-([0-9]+))?")


@dataclass
class _State:
    """The config being changed, replaced by each instruction."""

    config: oci.ContainerConfig
    cmd_set: bool = False

    def variables(self) -> dict[str, str]:
        return dict(item.partition("=")[::2] for item in self.config.env)

    def change(self, **fields: Any) -> None:
        self.config = dataclasses.replace(self.config, **fields)

    def command(self, command: tuple[str, ...], shell_form: bool) -> tuple[str, ...]:
        return (*(self.config.shell or DEFAULT_SHELL), *command) if shell_form else command


def apply_changes(
    changes: Sequence[str], base: oci.ContainerConfig | None = None
) -> oci.ContainerConfig:
    """``base`` (default: an empty config) with ``changes`` applied; InvalidArgument naming the
    change for a bad one."""
    instructions = parse_changes(changes) if changes else ()
    state = _State(base or oci.ContainerConfig())
    for instruction in instructions:
        try:
            _apply(state, Expander(state.variables()).expand(instruction))
        except DockerfileError as exc:
            raise InvalidArgument(_invalid(instruction, exc.reason)) from None
        except InvalidArgument as exc:
            raise InvalidArgument(_invalid(instruction, str(exc))) from None
    return state.config


def _invalid(instruction: Instruction, reason: str) -> str:
    return f"invalid change {go_quote(instruction.original.strip())}: {reason}"


def _apply(state: _State, instruction: Instruction) -> None:
    config = state.config
    match instruction:
        case Cmd(command=command, shell_form=shell_form):
            state.change(cmd=state.command(command, shell_form))
            state.cmd_set = True
        case Entrypoint(command=command, shell_form=shell_form):
            cleared = {} if state.cmd_set else {"cmd": None}
            state.change(entrypoint=state.command(command, shell_form), **cleared)
        case Env(env=pairs):
            state.change(env=_set_env(config.env, [(p.key, p.value) for p in pairs]))
        case Label(labels=pairs):
            state.change(labels={**config.labels, **{p.key: p.value for p in pairs}})
        case Expose(ports=ports):
            exposed = {port for spec in ports for port in exposed_ports(spec)}
            state.change(exposed_ports=(*config.exposed_ports, *exposed))
        case Volume(paths=paths):
            state.change(volumes=(*config.volumes, *(p.strip() for p in paths)))
        case User(user=user):
            state.change(user=user)
        case Workdir(path=path):
            state.change(working_dir=_workdir(config.working_dir, path))
        case Healthcheck():
            state.change(healthcheck=_healthcheck(instruction))
        case Onbuild(expression=expression):
            state.change(on_build=(*config.on_build, expression))
        case _:
            raise InvalidArgument(f"{type(instruction).__name__.lower()} is not a valid change"
                                  " command")


def _set_env(env: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """ENV replaces a variable in place or appends it (dockerd's dispatchEnv)."""
    out = list(env)
    for key, value in pairs:
        entry = f"{key}={value}"
        for index, existing in enumerate(out):
            if existing.partition("=")[0] == key:
                out[index] = entry
                break
        else:
            out.append(entry)
    return tuple(out)


def _workdir(current: str, requested: str) -> str:
    """dockerd's normalizeWorkdir: an absolute path as given, a relative one joined to the
    current directory."""
    if requested.startswith("/"):
        return requested
    return posixpath.normpath(posixpath.join("/", current, requested))


def _healthcheck(check: Healthcheck) -> oci.Healthcheck:
    return oci.Healthcheck(test=check.test, interval=check.interval, timeout=check.timeout,
                           start_period=check.start_period,
                           start_interval=check.start_interval, retries=check.retries)


def exposed_ports(spec: str) -> list[str]:
    """``80``, ``80/udp``, ``8000-8002/tcp`` as ``port/proto`` keys (nat.ParsePortSpecs)."""
    number, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    match = _PORT.fullmatch(number)
    if match is None:
        raise InvalidArgument(f"Invalid containerPort: {number}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < low or high > 65535:
        raise InvalidArgument(f"Invalid range format for --expose: {spec}, error: bad range")
    return [f"{port}/{proto}" for port in range(low, high + 1)]
