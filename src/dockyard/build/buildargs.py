"""Build args: which ARG values a step sees, by Docker's scoping rules.

- ARGs before the first FROM are meta (global) args. They are usable in FROM lines only; a
  stage sees one after it redeclares it (``ARG NAME`` without a default takes the global
  value).
- An ARG declared in a stage is in scope from its line to the end of that stage.
- A value given with ``--build-arg`` wins over the default in the Dockerfile; an ARG with
  neither a default nor a value is unset (``${NAME-x}`` gives ``x``).
- ENV wins over an ARG of the same name.
- The proxy args (HTTP_PROXY, https_proxy, ...) are usable without being declared when they
  are given, as in dockerd's classic builder (builder/dockerfile/buildargs.go).
- The platform args (TARGETPLATFORM, TARGETOS, ..., BUILDPLATFORM, ...) are global args set
  by the builder, as BuildKit sets them (dockerfile2llb/platform.go), so FROM lines see them
  and a stage sees them after ``ARG TARGETARCH``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dockyard.build.errors import DockerfileError
from dockyard.build.expand import Expander
from dockyard.build.instructions import Arg
from dockyard.errors import InvalidArgument
from dockyard.oci.platform import Platform

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
PLATFORM_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
                 "TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT",
                 "TARGETSTAGE")


def platform_args(target: Platform, build: Platform | None = None,
                  target_stage: str = "") -> dict[str, str]:
    """The automatic platform args for a build for ``target`` on ``build`` (default: target)."""
    build = target if build is None else build
    return {
        "BUILDPLATFORM": _format(build), "BUILDOS": build.os,
        "BUILDOSVERSION": build.os_version, "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": _format(target), "TARGETOS": target.os,
        "TARGETOSVERSION": target.os_version, "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant, "TARGETSTAGE": target_stage or "default",
    }


def _format(platform: Platform) -> str:
    return "/".join(part for part in (platform.os, platform.architecture, platform.variant)
                    if part)


@dataclass(frozen=True, slots=True)
class BuildArgs:
    """The args of one point of a build; each method returns a new value.

    ``options`` are the ``--build-arg`` values; ``meta`` the global args with their resolved
    values (None: declared without a value); ``declared`` the args declared so far in the
    current stage with their expanded defaults.
    """

    options: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str | None] = field(default_factory=dict)
    declared: Mapping[str, str | None] = field(default_factory=dict)
    filename: str = "Dockerfile"

    @classmethod
    def start(cls, options: Mapping[str, str], meta_args: Iterable[Arg],
              automatic: Mapping[str, str] | None = None, *,
              filename: str = "Dockerfile") -> BuildArgs:
        """The global scope: ``automatic`` args (platform args), then the meta ARGs in order,
        each default expanded with the global args before it."""
        scope = cls(dict(options), dict(automatic or {}), {}, filename)
        for arg in meta_args:
            env = scope.global_env()
            meta = dict(scope.meta)
            for decl in arg.args:
                meta[decl.name] = scope._resolve_default(decl.name, decl.default, env, arg)
            scope = cls(scope.options, meta, {}, filename)
        return scope

    def _resolve_default(self, name: str, default: str | None, env: Mapping[str, str],
                         arg: Arg) -> str | None:
        if default is None or name in self.options:
            return default
        expander = Expander(env, escape=arg.escape, filename=self.filename)
        try:
            return expander.expand_word(default)
        except InvalidArgument as exc:
            raise DockerfileError(self.filename, arg.line, str(exc), arg.end_line) from None

    def global_env(self) -> dict[str, str]:
        """What FROM lines (and meta ARG defaults) expand with."""
        env = {name: value for name in self.meta
               if (value := self._global_value(name)) is not None}
        env.update((name, self.options[name]) for name in PROXY_ARGS if name in self.options)
        return env

    def stage(self) -> BuildArgs:
        """The scope at the start of a stage: no ARG declared yet."""
        return BuildArgs(self.options, self.meta, {}, self.filename)

    def declare(self, arg: Arg, env: Mapping[str, str]) -> BuildArgs:
        """The scope after an ARG line; ``env`` is what the line expands with
        (`environment` of the image config's ENV). A default overridden by a
        ``--build-arg`` is not expanded."""
        declared = dict(self.declared)
        for decl in arg.args:
            declared[decl.name] = self._resolve_default(decl.name, decl.default, env, arg)
        return BuildArgs(self.options, self.meta, declared, self.filename)

    def _global_value(self, name: str) -> str | None:
        return self.options[name] if name in self.options else self.meta.get(name)

    def _stage_value(self, name: str) -> str | None:
        """dockerd's getBuildArg: --build-arg, else the stage default, else the global value."""
        if name in self.options:
            return self.options[name]
        default = self.declared.get(name)
        return default if default is not None else self.meta.get(name)

    def values(self) -> dict[str, str]:
        """The args in scope with a value: declared ones, and the proxy args given."""
        found = {name: value for name in self.declared
                 if (value := self._stage_value(name)) is not None}
        for name in PROXY_ARGS:
            if name in self.options and name not in found:
                found[name] = self.options[name]
        return found

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """What a step expands with: ``env`` (the image's ENV) and the args it does not set."""
        merged = dict(env)
        for name, value in self.values().items():
            merged.setdefault(name, value)
        return merged

    def unused(self, declared_anywhere: Iterable[str]) -> list[str]:
        """``--build-arg`` names no ARG declared (dockerd warns about them)."""
        known = set(declared_anywhere) | set(self.meta) | set(PROXY_ARGS)
        return sorted(name for name in self.options if name not in known)
