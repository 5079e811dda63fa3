"""``build`` (``image build``, ``builder build``) and ``builder prune``.

``build`` sends the context (:mod:`dockyard.cli.buildcontext`) to ``POST /build`` with the
query the docker CLI 28 sends (only what differs from the defaults) and shows the daemon's
messages as the steps run. On a terminal each step's result line gets the step's time and the
build ends with its total time; otherwise the lines are docker's own. A failure prints the
daemon's message and exits with the failing RUN's status (1 when there is none).

Extensions of dockyard: ``--secret id=ID,src=PATH`` (or ``env=VAR``) passes secrets for
``RUN --mount=type=secret`` (header ``X-Dockyard-Build-Secrets``); SOURCE_DATE_EPOCH in the
environment becomes a build arg (as buildx does) for reproducible images.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from typing import Any, TextIO

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

_FLAGS = (
    Flag("build-arg", "", "list", "Set build-time variables", metavar="list"),
    Flag("cache-from", "", "list", "Images to consider as cache sources", metavar="strings"),
    Flag("file", "f", "string", "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
    Flag("force-rm", "", help="Always remove intermediate containers"),
    Flag("iidfile", "", "string", "Write the image ID to the file"),
    Flag("label", "", "list", "Set metadata for an image", metavar="list"),
    Flag("network", "", "string", "Set the networking mode for the RUN instructions during "
         "build", default="default"),
    Flag("no-cache", "", help="Do not use cache when building the image"),
    Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
    Flag("pull", "", help="Always attempt to pull a newer version of the image"),
    Flag("quiet", "q", help="Suppress the build output and print image ID on success"),
    Flag("rm", "", "bool", "Remove intermediate containers after a successful build",
         default=True),
    Flag("secret", "", "list", "Secret to expose to the build (id=ID,src=PATH or env=VAR)",
         metavar="stringArray"),
    Flag("tag", "t", "list", "Name and optionally a tag in the 'name:tag' format",
         metavar="list"),
    Flag("target", "", "string", "Set the target build stage to build."),
)
_SHORT = "Build an image from a Dockerfile"
_ALIASES = "dockyard image build, dockyard build, dockyard builder build"
BUILD = Command("build", "[OPTIONS] PATH | URL | -", _SHORT, _FLAGS, min_args=1, max_args=1,
                aliases=_ALIASES)
IMAGE_BUILD = Command("image build", BUILD.usage, _SHORT, _FLAGS, min_args=1, max_args=1,
                      aliases=_ALIASES)
BUILDER_BUILD = Command("builder build", BUILD.usage, _SHORT, _FLAGS, min_args=1, max_args=1,
                        aliases=_ALIASES)
PRUNE = Command("builder prune", "[OPTIONS]", "Remove build cache", (
    Flag("all", "a", help="Remove all unused build cache, not just dangling ones"),
    Flag("filter", "", "list", "Provide filter values (e.g. \"until=24h\")", metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
    Flag("keep-storage", "", "string", "Amount of disk space to keep for cache"),
), max_args=0)
SECRETS_HEADER = "X-Dockyard-Build-Secrets"


def _pairs(values: list[str], environ: dict[str, str], what: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for value in values:
        key, eq, rest = value.partition("=")
        if not key:
            raise StatusError(f"invalid {what}: {value!r}")
        out[key] = rest if eq else environ.get(key)
    return out


def _secrets(values: list[str], environ: dict[str, str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for value in values:
        fields = dict(f.partition("=")[::2] for f in value.split(","))
        ident = fields.get("id", "")
        if not ident:
            raise StatusError(f"invalid secret {value!r}: it needs id=")
        if "src" in fields or "source" in fields:
            path = fields.get("src") or fields.get("source") or ""
            try:
                with open(os.path.expanduser(path), "rb") as file:
                    out[ident] = file.read()
            except OSError as exc:
                raise StatusError(f"failed to read secret {ident} from {path}: "
                                  f"{exc.strerror or exc}") from exc
        else:
            name = fields.get("env") or ident
            if name not in environ:
                raise StatusError(f"secret {ident}: environment variable {name} is not set")
            out[ident] = environ[name].encode()
    return out


def build_query(parsed: Parsed, dockerfile: str, environ: dict[str, str]) -> dict[str, Any]:
    """The query of POST /build, non-default parameters only (as the docker CLI 28)."""
    query: dict[str, str | list[str]] = {"version": "1", "dockerfile": dockerfile}
    if parsed.strings("tag"):
        query["t"] = parsed.strings("tag")
    args = _pairs(parsed.strings("build_arg"), environ, "build arg")
    if "SOURCE_DATE_EPOCH" in environ and "SOURCE_DATE_EPOCH" not in args:
        args["SOURCE_DATE_EPOCH"] = environ["SOURCE_DATE_EPOCH"]
    if args:
        query["buildargs"] = json.dumps(args, separators=(",", ":"))
    labels = _pairs(parsed.strings("label"), environ, "label")
    if labels:
        query["labels"] = json.dumps({k: v or "" for k, v in labels.items()},
                                     separators=(",", ":"))
    for flag, name in (("no_cache", "nocache"), ("pull", "pull"), ("quiet", "q"),
                       ("force_rm", "forcerm")):
        if parsed.flag(flag):
            query[name] = "1"
    if not parsed.flag("rm"):
        query["rm"] = "0"
    for flag, name in (("target", "target"), ("platform", "platform")):
        if parsed.string(flag):
            query[name] = parsed.string(flag)
    if parsed.string("network") not in ("", "default"):
        query["networkmode"] = parsed.string("network")
    if parsed.strings("cache_from"):
        query["cachefrom"] = json.dumps(parsed.strings("cache_from"), separators=(",", ":"))
    return query


def _registry_config(session: Session) -> str:
    """``X-Registry-Config``: every stored credential, by registry (docker sends them all, as
    the Dockerfile's FROM lines are not known before the daemon reads it)."""
    from dockyard.cli.credentials import CredentialStore, config_path

    path = config_path(session.environ)
    try:
        stored = json.loads(path.read_text() or "{}").get("auths") or {}
    except (OSError, ValueError, AttributeError):
        stored = {}
    store = CredentialStore(path)
    auths: dict[str, Any] = {server: store.get(server) for server in stored}
    return base64.urlsafe_b64encode(json.dumps(auths, separators=(",", ":")).encode()).decode()


def _context(session: Session, parsed: Parsed) -> Any:
    from dockyard.cli.buildcontext import from_directory, from_stdin

    source, dockerfile = parsed.args[0], parsed.string("file")
    if source.startswith(("http://", "https://", "git@", "github.com/")):
        raise StatusError("unable to prepare context: remote contexts are not supported")
    if source != "-":
        return from_directory(source, dockerfile, session.stdin)
    if dockerfile == "-":
        raise StatusError("invalid argument: can't use stdin for both build context and "
                          "dockerfile")
    return from_stdin(session.stdin, dockerfile)


def run_build(session: Session, command: Command, parsed: Parsed) -> int:
    context = _context(session, parsed)
    iidfile = parsed.string("iidfile")
    if iidfile and os.path.exists(iidfile):
        os.remove(iidfile)
    quiet = parsed.flag("quiet")
    terminal = session.out_is_terminal() and not quiet
    if not quiet:
        from dockyard.cli.units import human_size

        session.out.write(f"Sending build context to Docker daemon  "
                          f"{human_size(context.size)}\n")
    headers = {"Content-Type": "application/x-tar",
               "X-Registry-Config": _registry_config(session)}
    secret_values = _secrets(parsed.strings("secret"), session.environ)
    if secret_values:
        encoded = {k: base64.b64encode(v).decode() for k, v in secret_values.items()}
        headers[SECRETS_HEADER] = base64.b64encode(json.dumps(encoded).encode()).decode()
    query = build_query(parsed, context.dockerfile, session.environ)
    with context.body:
        response = session.client().request("POST", "/build", query, body=context.body,
                                            headers=headers)
        from dockyard.client.engine import decode_lines

        out = io.StringIO() if quiet else session.out
        image_id = show(decode_lines(response), out, session.err, terminal=terminal,
                        clock=time.monotonic)
    if quiet:
        session.out.write(image_id + ("\n" if not image_id.endswith("\n") else ""))
    if iidfile:
        if not image_id:
            raise StatusError(f"Server did not provide an image ID. Cannot write {iidfile}")
        with open(iidfile, "w") as file:
            file.write(image_id.strip())
    return 0


def show(messages: Any, out: TextIO, err: TextIO, *, terminal: bool,
         clock: Any = time.monotonic) -> str:
    """Print the build's messages; the image ID (from ``aux``, or the quiet line)."""
    image_id = ""
    start = step_start = clock()
    for message in messages:
        detail = message.get("errorDetail") or {}
        if detail or message.get("error"):
            text = detail.get("message") or message.get("error") or "unknown error"
            code = detail.get("code") or 1
            raise StatusError(str(text), int(code))
        aux = message.get("aux")
        if isinstance(aux, dict):
            image_id = str(aux.get("ID", image_id))
            continue
        text = message.get("stream") or message.get("status") or ""
        if isinstance(text, str) and text.startswith("sha256:") and text.strip().count(":") == 1:
            image_id = text.strip()
        if terminal and text.startswith(" ---> ") and not text.startswith(
                (" ---> Running in", " ---> Using cache", " ---> [Warning]")):
            text = f"{text.rstrip()} ({clock() - step_start:.2f}s)\n"
        if text.startswith("Step "):
            step_start = clock()
        if terminal and text.startswith("Successfully built"):
            text = f"{text.rstrip()} in {clock() - start:.2f}s\n"
        if text:
            out.write(text if message.get("stream") else text + "\n")
            out.flush()
    return image_id


def run_prune(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.prune import write_report

    kind = "all build cache" if parsed.flag("all") else "all dangling build cache"
    if not parsed.flag("force") and not session.confirm(
            f"WARNING! This will remove {kind}. Are you sure you want to continue?"):
        return 0
    query: dict[str, str | list[str]] = {}
    if parsed.flag("all"):
        query["all"] = "1"
    if parsed.string("keep_storage"):
        query["keep-storage"] = str(_bytes(parsed.string("keep_storage")))
    filters: dict[str, list[str]] = {}
    for item in parsed.strings("filter"):
        key, _, value = item.partition("=")
        filters.setdefault(key, []).append(value)
    if filters:
        from dockyard.client.engine import encode_filters

        query["filters"] = encode_filters(filters)
    report = session.client().call("POST", "/build/prune", query) or {}
    deleted = [str(ident) for ident in report.get("CachesDeleted") or []]
    write_report(session, "Deleted build cache objects", deleted,
                 int(report.get("SpaceReclaimed") or 0))
    return 0


def _bytes(text: str) -> int:
    units = {"b": 1, "k": 1024, "kb": 1024, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30,
             "gb": 1 << 30}
    lowered = text.strip().lower()
    for suffix in sorted(units, key=len, reverse=True):
        if lowered.endswith(suffix) and lowered[: -len(suffix)].strip().replace(".", "", 1) \
                .isdigit():
            return int(float(lowered[: -len(suffix)]) * units[suffix])
    if lowered.isdigit():
        return int(lowered)
    raise StatusError(f"invalid keep-storage {text!r}")
