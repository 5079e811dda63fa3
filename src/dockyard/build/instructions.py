"""Typed Dockerfile instructions: one frozen dataclass per keyword of the Dockerfile reference.

Values are kept as written: ``ENV A="x y"`` holds ``"x y"`` with its quotes, ``COPY $SRC /d``
holds ``$SRC``. `dockyard.build.expand` turns an instruction into the one the builder uses,
with variables replaced and quotes removed, as dockerd does at each step; every instruction,
even without a ``$``, must go through it before use.

Every instruction knows its ``line`` and ``end_line`` (heredoc bodies included), its
``original`` text (the joined logical line) and the ``escape`` token of its Dockerfile, which
its expansion uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.build.mounts import Mount


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """Where an instruction was written."""

    line: int = 0
    end_line: int = 0
    original: str = ""
    escape: str = "\\"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One ``key=value`` of ENV or LABEL; ``legacy`` for the old ``ENV key value`` form."""

    key: str
    value: str
    legacy: bool = False


@dataclass(frozen=True, slots=True)
class ArgDecl:
    """One name of an ARG line and its default, None when it has none."""

    name: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class HeredocFile:
    """A file given inline: a COPY/ADD source ``<<EOF``, or a file of a ``RUN <<EOF``.

    ``data`` has the ``<<-`` tabs already removed; ``expand`` says whether variables in it
    are to be replaced (the delimiter was not quoted); ``fd`` is the descriptor of ``3<<EOF``.
    """

    name: str
    data: str
    expand: bool = True
    fd: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class From(Located):
    """FROM [--platform=p] image [AS name]; name is lower case, "" when there is none."""

    image: str
    name: str = ""
    platform: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run(Located):
    """RUN; ``command`` is one string in shell form (``shell_form``), the JSON list otherwise."""

    command: tuple[str, ...]
    shell_form: bool = True
    heredocs: tuple[HeredocFile, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str = "default"
    security: str = "sandbox"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cmd(Located):
    """CMD, in shell form (one string) or exec form."""

    command: tuple[str, ...]
    shell_form: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Entrypoint(Located):
    """ENTRYPOINT, in shell form (one string) or exec form (``ENTRYPOINT []`` clears it)."""

    command: tuple[str, ...]
    shell_form: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Label(Located):
    """LABEL k=v ...; or the old LABEL k v."""

    labels: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Maintainer(Located):
    """MAINTAINER (deprecated): sets the image's author."""

    maintainer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Expose(Located):
    """EXPOSE port[/proto] ... (sorted as buildkit sorts them)."""

    ports: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Env(Located):
    """ENV k=v ...; or the old ENV k v (the value is the rest of the line)."""

    env: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Add(Located):
    """ADD [flags] src... dest; heredoc sources are in ``contents``."""

    sources: tuple[str, ...]
    dest: str
    contents: tuple[HeredocFile, ...] = ()
    chown: str = ""
    chmod: str = ""
    link: bool = False
    keep_git_dir: bool | None = None
    checksum: str = ""
    unpack: bool | None = None
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy(Located):
    """COPY [flags] src... dest; ``from_`` is a stage name, stage index or image ("" if none)."""

    sources: tuple[str, ...]
    dest: str
    contents: tuple[HeredocFile, ...] = ()
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume(Located):
    """VOLUME ["/a", "/b"] or VOLUME /a /b."""

    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class User(Located):
    """USER user[:group]."""

    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Workdir(Located):
    """WORKDIR path."""

    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Arg(Located):
    """ARG name[=default] ..."""

    args: tuple[ArgDecl, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StopSignal(Located):
    """STOPSIGNAL signal."""

    signal: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Healthcheck(Located):
    """HEALTHCHECK NONE, or HEALTHCHECK [flags] CMD ...; durations in nanoseconds (0 = unset).

    ``test`` is ``("NONE",)``, ``("CMD", arg, ...)`` or ``("CMD-SHELL", command)``, as the
    image config stores it.
    """

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Shell(Located):
    """SHELL ["executable", "parameters"] (JSON form only)."""

    shell: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Onbuild(Located):
    """ONBUILD trigger; ``expression`` is what the image config stores.

    dockerd stores a trigger it cannot parse (``ONBUILD FOO``) and fails only when an image
    built on this one runs it; ``instruction`` is the parsed trigger, or None for such a one.
    """

    trigger: str
    expression: str
    instruction: Instruction | None = None


Instruction = (From | Run | Cmd | Entrypoint | Label | Maintainer | Expose | Env | Add | Copy
               | Volume | User | Workdir | Arg | StopSignal | Healthcheck | Shell | Onbuild)
