"""What each metadata instruction does to the image config, and the history line it leaves.

One pure function per instruction, following dockerd 20.10's classic builder
(``builder/dockerfile/dispatchers.go``): each takes the expanded instruction and the container
config so far and returns the new config and the ``comment`` the step commits with. The
history line is the shell followed by ``#(nop) `` and the comment, as dockerd's
``withCmdComment`` joins them (two words, so two spaces: ``/bin/sh -c #(nop)  ENV A=1``);
WORKDIR, COPY and ADD use the older one-word form (``/bin/sh -c #(nop) WORKDIR /app``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dockyard.build.gofmt import health_struct, quote_list, value_list
from dockyard.build.instructions import (
    Arg,
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from dockyard.errors import InvalidArgument
from dockyard.oci.config import ContainerConfig
from dockyard.oci.config import Healthcheck as Health
from dockyard.oci.dockerignore import go_clean

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, slots=True)
class Change:
    """The result of a metadata step: the new config, the commit comment, whether the comment is
    one word (``#(nop) X``) or two (``#(nop) `` and ``X``), the image author if it changed,
    whether CMD was set, and a note for the build output."""

    config: ContainerConfig
    comment: str
    one_word: bool = False
    author: str | None = None
    cmd_set: bool = False
    note: str = ""


def shell_of(config: ContainerConfig) -> tuple[str, ...]:
    """The shell that prefixes shell-form commands (dockerd's ``getShell``)."""
    return config.shell or DEFAULT_SHELL


def nop_command(config: ContainerConfig, comment: str, one_word: bool) -> tuple[str, ...]:
    """The ``Cmd`` dockerd gives the container of a metadata step (its history line)."""
    if one_word:
        return (*shell_of(config), "#(nop) " + comment)
    return (*shell_of(config), "#(nop) ", comment)


def command_line(config: ContainerConfig, command: Sequence[str],
                 shell_form: bool) -> tuple[str, ...]:
    """dockerd's ``resolveCmdLine``: a shell-form command runs through the shell."""
    if shell_form:
        return (*shell_of(config), *command)
    return tuple(command)


def with_default_path(config: ContainerConfig) -> ContainerConfig:
    """A stage's config gets a PATH if its image has none (``setDefaultPath``)."""
    if any(item.split("=", 1)[0] == "PATH" for item in config.env):
        return config
    return replace(config, env=(*config.env, DEFAULT_PATH))


def set_env(env: Sequence[str], key: str, value: str) -> tuple[str, ...]:
    """``env`` with ``key`` set (in place when present, else appended)."""
    out = list(env)
    for index, item in enumerate(out):
        if item.split("=", 1)[0] == key:
            out[index] = f"{key}={value}"
            return tuple(out)
    out.append(f"{key}={value}")
    return tuple(out)


def apply(instruction: Instruction, config: ContainerConfig, cmd_set: bool) -> Change:
    """The change an expanded metadata instruction makes (not FROM, RUN, COPY, ADD)."""
    match instruction:
        case Env():
            env = config.env
            for pair in instruction.env:
                env = set_env(env, pair.key, pair.value)
            words = " ".join(f"{p.key}={p.value}" for p in instruction.env)
            return Change(replace(config, env=env), f"ENV {words}", cmd_set=cmd_set)
        case Label():
            labels = dict(config.labels)
            labels.update((p.key, p.value) for p in instruction.labels)
            words = "".join(f" {p.key}={p.value}" for p in instruction.labels)
            return Change(replace(config, labels=labels), f"LABEL{words}", cmd_set=cmd_set)
        case Maintainer():
            return Change(config, f"MAINTAINER {instruction.maintainer}",
                          author=instruction.maintainer, cmd_set=cmd_set)
        case Expose():
            ports = (*config.exposed_ports, *parse_ports(instruction.ports))
            return Change(replace(config, exposed_ports=ports),
                          "EXPOSE " + " ".join(instruction.ports), cmd_set=cmd_set)
        case User():
            return Change(replace(config, user=instruction.user), f"USER {instruction.user}",
                          cmd_set=cmd_set)
        case Volume():
            if any(not p for p in instruction.paths):
                raise InvalidArgument("VOLUME specified can not be an empty string")
            return Change(replace(config, volumes=(*config.volumes, *instruction.paths)),
                          f"VOLUME {value_list(instruction.paths)}", cmd_set=cmd_set)
        case StopSignal():
            check_signal(instruction.signal)
            return Change(replace(config, stop_signal=instruction.signal),
                          f"STOPSIGNAL {instruction.signal}", cmd_set=cmd_set)
        case Workdir():
            path = workdir(config.working_dir, instruction.path)
            return Change(replace(config, working_dir=path), f"WORKDIR {path}", one_word=True,
                          cmd_set=cmd_set)
        case _:
            return _apply_more(instruction, config, cmd_set)


def _apply_more(instruction: Instruction, config: ContainerConfig, cmd_set: bool) -> Change:
    match instruction:
        case Arg():
            words = " ".join(d.name if d.default is None else f"{d.name}={d.default}"
                             for d in instruction.args)
            return Change(config, f"ARG {words}", cmd_set=cmd_set)
        case Onbuild():
            return Change(replace(config, on_build=(*config.on_build, instruction.expression)),
                          f"ONBUILD {instruction.expression}", cmd_set=cmd_set)
        case Shell():
            new = replace(config, shell=instruction.shell)
            return Change(new, f"SHELL {value_list(instruction.shell)}", cmd_set=cmd_set)
        case Cmd():
            cmd = command_line(config, instruction.command, instruction.shell_form)
            return Change(replace(config, cmd=cmd), f"CMD {quote_list(cmd)}",
                          cmd_set=cmd_set or bool(instruction.command))
        case Entrypoint():
            entrypoint = command_line(config, instruction.command, instruction.shell_form)
            new = replace(config, entrypoint=entrypoint,
                          cmd=config.cmd if cmd_set else None)
            return Change(new, f"ENTRYPOINT {quote_list(entrypoint)}", cmd_set=cmd_set)
        case Healthcheck():
            return _healthcheck(instruction, config, cmd_set)
    raise InvalidArgument(f"{type(instruction).__name__.upper()} is not a metadata instruction")


def _healthcheck(instruction: Healthcheck, config: ContainerConfig, cmd_set: bool) -> Change:
    note = ""
    old = config.healthcheck
    if old is not None and old.test and old.test[0] != "NONE":
        note = f"Note: overriding previous HEALTHCHECK: {value_list(old.test)}\n"
    health = Health(instruction.test, instruction.interval, instruction.timeout,
                    instruction.start_period, instruction.start_interval, instruction.retries)
    text = health_struct(health)
    return Change(replace(config, healthcheck=health), f"HEALTHCHECK {text}", cmd_set=cmd_set,
                  note=note)


def merge_health(new: Health | None, parent: Health | None) -> Health | None:
    """dockerd fills the unset durations and retries of a step's healthcheck from the image it
    runs on when it creates the step's container (daemon ``merge``)."""
    if new is None or parent is None:
        return new
    return Health(
        new.test or parent.test, new.interval or parent.interval,
        new.timeout or parent.timeout, new.start_period or parent.start_period,
        new.start_interval or parent.start_interval, new.retries or parent.retries,
    )


def workdir(current: str, requested: str) -> str:
    """dockerd's ``normalizeWorkdir``: a relative path joins the current one."""
    if not requested:
        raise InvalidArgument("cannot normalize nothing")
    if requested.startswith("/"):
        return requested
    return go_clean(posixpath.join("/", current, requested))


_SIGNALS = frozenset((
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
    "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
    "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    "RTMIN", "RTMAX",
    *(f"RTMIN+{n}" for n in range(1, 16)), *(f"RTMAX-{n}" for n in range(1, 15)),
))


def check_signal(name: str) -> None:
    """Accept what moby's ``signal.ParseSignal`` accepts on Linux: a non-zero number, or a
    name of its signal map with or without ``SIG``."""
    try:
        if int(name, 10) != 0:
            return
    except ValueError:
        if name.upper().removeprefix("SIG") in _SIGNALS:
            return
    raise InvalidArgument(f"Invalid signal: {name}")


def parse_ports(specs: Sequence[str]) -> list[str]:
    """The ``port/proto`` keys of EXPOSE arguments (go-connections ``nat.ParsePortSpecs``):
    ``80``, ``80/udp``, ``8000-8002``, ``[ip:]host:container``."""
    out: list[str] = []
    for spec in specs:
        container = spec.rsplit(":", 1)[-1] if ":" in spec else spec
        port, _, proto = container.partition("/")
        proto = proto or "tcp"
        if not port:
            raise InvalidArgument(f"No port specified: {spec}<empty>")
        start, end = _port_range(port)
        if proto.lower() not in _PROTOCOLS:
            raise InvalidArgument(f"Invalid proto: {proto}")
        out += [f"{number}/{proto.lower()}" for number in range(start, end + 1)]
    return out


def _port_range(text: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    try:
        start = int(first, 10)
        end = int(last, 10) if dash else start
    except ValueError:
        raise InvalidArgument(f"Invalid containerPort: {text}") from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise InvalidArgument(f"Invalid containerPort: {text}")
    return start, end
