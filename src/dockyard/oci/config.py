"""Image configs (OCI image spec config.md) as Docker writes and reads them.

An image's ID is the sha256 of its config bytes, so a config read with
:meth:`ImageConfig.from_json` keeps those bytes in ``raw`` and :meth:`ImageConfig.to_json` returns
them unchanged; Docker's own fields (``container``, ``container_config``, ``docker_version``,
``comment``, ...) and any others survive in ``extra``. A config built in code, or changed with
``dataclasses.replace`` or the ``with_*`` methods (which drop ``raw``), is written by
:meth:`ImageConfig.canonical_json`: compact Go-style JSON with the top-level keys sorted (as
Docker's image marshaller does) and the container config in the field order of Docker's
``DockerOCIImageConfig``. Keys keep Go's casing: ``Env``, ``Cmd``, ``diff_ids``, ``empty_layer``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci.codec import JSON, Fields, check_extra, decode_object, encode, frozen_mapping
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_id
from dockyard.oci.platform import Platform

_WHAT = "image config"
_CONTAINER_KEYS = frozenset({"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
                             "WorkingDir", "Labels", "StopSignal", "ArgsEscaped", "Healthcheck",
                             "OnBuild", "Shell"})
_IMAGE_KEYS = frozenset({"architecture", "os", "variant", "os.version", "os.features", "created",
                         "author", "config", "rootfs", "history"})


def rfc3339_nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` text: fraction without trailing zeros, ``Z`` for UTC."""
    if moment.tzinfo is None:
        raise InvalidArgument(f"time {moment.isoformat()} has no time zone")
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    zone = moment.strftime("%z")
    return f"{text}{zone[:3]}:{zone[3:5]}"


def now_rfc3339() -> str:
    return rfc3339_nano(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """Docker's HEALTHCHECK; durations in nanoseconds, as Go's ``time.Duration`` marshals."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_dict(self) -> dict[str, JSON]:
        pairs: list[tuple[str, JSON]] = [
            ("Test", list(self.test) if self.test else None),
            ("Interval", self.interval or None),
            ("Timeout", self.timeout or None),
            ("StartPeriod", self.start_period or None),
            ("StartInterval", self.start_interval or None),
            ("Retries", self.retries or None),
        ]
        return {key: value for key, value in pairs if value is not None}

    @classmethod
    def from_fields(cls, f: Fields) -> Healthcheck:
        return cls(
            test=f.strings("Test") or (),
            interval=f.integer("Interval"),
            timeout=f.integer("Timeout"),
            start_period=f.integer("StartPeriod"),
            start_interval=f.integer("StartInterval"),
            retries=f.integer("Retries"),
        )


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The ``config`` member: defaults for containers run from the image.

    ``entrypoint``/``cmd`` are None when unset and ``()`` when set to an empty list; exposed
    ports and volumes are sets, kept sorted.
    """

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: Healthcheck | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()
    extra: Mapping[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exposed_ports", tuple(sorted(set(self.exposed_ports))))
        object.__setattr__(self, "volumes", tuple(sorted(set(self.volumes))))
        object.__setattr__(self, "labels", frozen_mapping(self.labels))
        check_extra("container config", self.extra, _CONTAINER_KEYS)
        object.__setattr__(self, "extra", frozen_mapping(self.extra))

    def to_dict(self) -> dict[str, JSON]:
        pairs: list[tuple[str, JSON]] = [
            ("User", self.user or None),
            ("ExposedPorts", {port: {} for port in self.exposed_ports} or None),
            ("Env", list(self.env) or None),
            ("Entrypoint", None if self.entrypoint is None else list(self.entrypoint)),
            ("Cmd", None if self.cmd is None else list(self.cmd)),
            ("Volumes", {volume: {} for volume in self.volumes} or None),
            ("WorkingDir", self.working_dir or None),
            ("Labels", dict(sorted(self.labels.items())) or None),
            ("StopSignal", self.stop_signal or None),
            ("ArgsEscaped", self.args_escaped or None),
            ("Healthcheck", self.healthcheck.to_dict() if self.healthcheck else None),
            ("OnBuild", list(self.on_build) or None),
            ("Shell", list(self.shell) or None),
        ]
        out: dict[str, JSON] = {key: value for key, value in pairs if value is not None}
        out.update(self.extra)
        return out

    @classmethod
    def from_fields(cls, f: Fields) -> ContainerConfig:
        health = f.nested("Healthcheck")
        return cls(
            user=f.string("User"),
            exposed_ports=f.set_keys("ExposedPorts"),
            env=f.strings("Env") or (),
            entrypoint=f.strings("Entrypoint"),
            cmd=f.strings("Cmd"),
            volumes=f.set_keys("Volumes"),
            working_dir=f.string("WorkingDir"),
            labels=f.string_map("Labels"),
            stop_signal=f.string("StopSignal"),
            args_escaped=f.boolean("ArgsEscaped"),
            healthcheck=Healthcheck.from_fields(health) if health else None,
            on_build=f.strings("OnBuild") or (),
            shell=f.strings("Shell") or (),
            extra=f.rest(),
        )


@dataclass(frozen=True, slots=True)
class RootFS:
    """The layers of the image's filesystem, bottom first, by diffID."""

    type: str = "layers"
    diff_ids: tuple[Digest, ...] = ()

    def __post_init__(self) -> None:
        if self.type != "layers":
            raise InvalidArgument(f"invalid {_WHAT}: rootfs type {self.type!r}, want 'layers'")
        object.__setattr__(self, "diff_ids", tuple(self.diff_ids))

    def to_dict(self) -> dict[str, JSON]:
        return {"type": self.type, "diff_ids": [str(d) for d in self.diff_ids]}

    @classmethod
    def from_fields(cls, f: Fields) -> RootFS:
        diff_ids = []
        for index, text in enumerate(f.strings("diff_ids") or ()):
            try:
                diff_ids.append(Digest.parse(text))
            except DockyardError as exc:
                raise f.error(f"diff_ids[{index}]", str(exc)) from exc
        kind = f.string("type", required=True)
        try:
            return cls(kind, tuple(diff_ids))
        except InvalidArgument as exc:
            raise f.error("type", f"{kind!r}, want 'layers'") from exc


@dataclass(frozen=True, slots=True)
class History:
    """One build step; ``empty_layer`` steps (ENV, CMD, ...) added no layer."""

    created: str | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_dict(self) -> dict[str, JSON]:
        pairs: list[tuple[str, JSON]] = [
            ("created", self.created),
            ("author", self.author or None),
            ("created_by", self.created_by or None),
            ("comment", self.comment or None),
            ("empty_layer", self.empty_layer or None),
        ]
        return {key: value for key, value in pairs if value is not None}

    @classmethod
    def from_fields(cls, f: Fields) -> History:
        return cls(
            created=f.optional_string("created"),
            created_by=f.string("created_by"),
            author=f.string("author"),
            comment=f.string("comment"),
            empty_layer=f.boolean("empty_layer"),
        )


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image config. ``raw`` holds the bytes it was read from (see the module docstring)."""

    architecture: str
    os: str
    rootfs: RootFS = field(default_factory=RootFS)
    config: ContainerConfig | None = None
    history: tuple[History, ...] = ()
    created: str | None = None
    author: str = ""
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    extra: Mapping[str, JSON] = field(default_factory=dict)
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", tuple(self.history))
        object.__setattr__(self, "os_features", tuple(self.os_features))
        check_extra(_WHAT, self.extra, _IMAGE_KEYS)
        object.__setattr__(self, "extra", frozen_mapping(self.extra))

    @property
    def platform(self) -> Platform:
        return Platform(self.architecture, self.os, self.os_version, self.os_features,
                        self.variant)

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return self.rootfs.diff_ids

    def chain_id(self) -> Digest:
        """The chainID of the image's top layer (its whole filesystem)."""
        return chain_id(self.rootfs.diff_ids)

    def with_layer(self, diff_id: Digest, history: History) -> ImageConfig:
        """A copy with one more layer on top, and its history entry."""
        rootfs = RootFS(diff_ids=(*self.rootfs.diff_ids, diff_id))
        entry = dataclasses.replace(history, empty_layer=False)
        return dataclasses.replace(self, rootfs=rootfs, history=(*self.history, entry))

    def with_empty_layer(self, history: History) -> ImageConfig:
        """A copy with one more history entry that added no layer (ENV, CMD, ...)."""
        entry = dataclasses.replace(history, empty_layer=True)
        return dataclasses.replace(self, history=(*self.history, entry))

    @classmethod
    def from_json(cls, data: bytes) -> ImageConfig:
        f = Fields(decode_object(data, _WHAT), _WHAT)
        container = f.nested("config")
        config = cls(
            architecture=f.string("architecture", required=True),
            os=f.string("os", required=True),
            rootfs=RootFS.from_fields(f.required_nested("rootfs")),
            config=ContainerConfig.from_fields(container) if container else None,
            history=tuple(History.from_fields(h) for h in f.objects("history")),
            created=f.optional_string("created"),
            author=f.string("author"),
            variant=f.string("variant"),
            os_version=f.string("os.version"),
            os_features=f.strings("os.features") or (),
            extra=f.rest(),
        )
        object.__setattr__(config, "raw", bytes(data))
        return config

    def canonical_json(self) -> bytes:
        out: dict[str, JSON] = dict(self.extra)
        out["architecture"] = self.architecture
        out["os"] = self.os
        out["rootfs"] = self.rootfs.to_dict()
        if self.config is not None:
            out["config"] = self.config.to_dict()
        if self.history:
            out["history"] = [h.to_dict() for h in self.history]
        optional: list[tuple[str, JSON]] = [
            ("created", self.created),
            ("author", self.author or None),
            ("variant", self.variant or None),
            ("os.version", self.os_version or None),
            ("os.features", list(self.os_features) or None),
        ]
        out.update((key, value) for key, value in optional if value is not None)
        return encode(dict(sorted(out.items())))

    def to_json(self) -> bytes:
        """The bytes read by :meth:`from_json`, else :meth:`canonical_json`."""
        return self.raw if self.raw is not None else self.canonical_json()

    def image_id(self) -> Digest:
        """The image ID: the digest of :meth:`to_json`."""
        return Digest.of(self.to_json())

