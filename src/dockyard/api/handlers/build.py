"""``POST /build`` (the classic builder's API, ``version=1``) and ``POST /build/prune``.

The body is the context tar (plain or compressed; the docker CLI sends it chunked, docker-py
with a length); it is read in the build's worker thread. Query parameters, as dockerd 20.10
reads them: ``t`` (several), ``dockerfile``, ``buildargs`` and ``labels`` (JSON objects),
``nocache``, ``pull``, ``target``, ``q``, ``rm`` (default on), ``forcerm``, ``networkmode``,
``platform``, ``cachefrom`` (a JSON list). Resource limits (``memory``, ``cpushares``...) are
accepted and ignored; ``remote`` contexts and BuildKit (``version=2``) are refused.
``X-Registry-Config`` carries credentials for pulls (base64 JSON, registry -> AuthConfig).

The answer is a JSON stream (:mod:`dockyard.build.output`), sent in batches
(:mod:`dockyard.api.handlers.build_stream`); an error before the first message is a plain HTTP
error, a later one ends the stream with ``errorDetail`` (its ``code`` the
failing RUN's exit status, which the docker CLI exits with). A client that goes away cancels
the build.

``dockyard build --secret`` sends secrets in ``X-Dockyard-Build-Secrets`` (base64 JSON,
id -> base64 data), an extension no docker client sends.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from typing import Any, Protocol

from dockyard.api.handlers.build_stream import stream_build
from dockyard.api.http import Request, Response, json_response, run_blocking
from dockyard.api.router import Route
from dockyard.build.job import BuildOptions, StepFailed
from dockyard.build.output import error_message
from dockyard.errors import DockyardError, InvalidArgument, Unsupported
from dockyard.registry.auth import Credentials, credentials_from_json
from dockyard.services.build import BuildRequest, BuildService
from dockyard.services.image_distribution import Emit

SECRETS_HEADER = "x-dockyard-build-secrets"
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")


class HasBuilds(Protocol):
    @property
    def builds(self) -> BuildService: ...


def routes(services: HasBuilds) -> list[Route]:
    builds = services.builds

    async def build(request: Request) -> Response:
        build_request = parse_request(request)
        reader = request.body.sync_reader()

        def job(emit: Emit, cancel: threading.Event) -> None:
            run_build(builds, reader, build_request, emit, cancel)

        return await stream_build(job, request)

    async def prune(request: Request) -> Response:
        keep = request.integer("keep-storage", 0)
        report = await run_blocking(builds.prune, all_entries=request.flag("all"),
                                    keep_storage=keep, filters=request.filters())
        return json_response(report)

    return [Route("POST", "/build", build), Route("POST", "/build/prune", prune)]


def run_build(builds: BuildService, reader: Any, request: BuildRequest, emit: Emit,
              cancel: threading.Event) -> None:
    """The build in a worker thread: a failure after the first message goes in the stream."""
    started = False

    def tracking(message: dict[str, Any]) -> None:
        nonlocal started
        started = True
        emit(message)

    try:
        builds.build(reader, request, tracking, cancel)
    except StepFailed as exc:
        if not started:
            raise
        emit(error_message(str(exc), exc.code))
    except DockyardError as exc:
        if not started:
            raise
        emit(error_message(str(exc)))


def _json_object(request: Request, name: str) -> dict[str, str]:
    text = request.arg(name, "") or ""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid {name} {text!r}: {exc}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name} {text!r}: not a JSON object")
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _json_list(request: Request, name: str) -> tuple[str, ...]:
    text = request.arg(name, "") or ""
    if not text.strip():
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid {name} {text!r}: {exc}") from exc
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def parse_request(request: Request) -> BuildRequest:
    """The build a ``POST /build`` asks for."""
    if request.arg("remote"):
        raise Unsupported("remote build contexts are not supported: send the context as the "
                          "request body")
    if (request.arg("version", "1") or "1") == "2":
        raise Unsupported("BuildKit (version=2) is not supported: use the classic builder "
                          "(version=1)")
    options = BuildOptions(
        dockerfile=request.arg("dockerfile", "") or "Dockerfile",
        build_args=_json_object(request, "buildargs"),
        labels=_json_object(request, "labels"),
        no_cache=request.flag("nocache"),
        pull=request.flag("pull"),
        target=request.arg("target", "") or "",
        remove=request.flag("rm", True),
        force_remove=request.flag("forcerm"),
        network=request.arg("networkmode", "") or "default",
        platform=request.arg("platform", "") or "",
        cache_from=_json_list(request, "cachefrom"),
        secrets=_secrets(request.headers.get(SECRETS_HEADER, "")),
    )
    return BuildRequest(options, tuple(request.args("t")), request.flag("q"),
                        registry_config(request.headers.get("x-registry-config", "")))


def _b64(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise InvalidArgument("invalid base64 in a build header")


def registry_config(value: str) -> dict[str, Credentials]:
    """``X-Registry-Config``: credentials by registry (Docker Hub's under ``docker.io``)."""
    if not value.strip():
        return {}
    try:
        doc = json.loads(_b64(value))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid X-Registry-Config header: {exc}") from exc
    if not isinstance(doc, dict):
        return {}
    out: dict[str, Credentials] = {}
    for server, auth in doc.items():
        if not isinstance(auth, dict):
            continue
        host = str(server).removeprefix("https://").removeprefix("http://").split("/")[0]
        if str(server) in _HUB_KEYS or host in ("index.docker.io", "registry-1.docker.io"):
            host = "docker.io"
        out[host] = credentials_from_json(auth)
    return out


def _secrets(value: str) -> dict[str, bytes]:
    if not value.strip():
        return {}
    try:
        doc = json.loads(_b64(value))
        return {str(k): _b64(str(v)) for k, v in doc.items()}
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid build secrets header: {exc}") from exc
