"""``dockyard registry``: run the distribution server, or collect its garbage.

    python -m dockyard.registry serve --root DIR [--addr 127.0.0.1:5000] [--config FILE] ...
    python -m dockyard.registry gc --root DIR [--grace 1h] [--delete-untagged] [--dry-run]
    python -m dockyard.registry htpasswd USER [PASSWORD]     (prints a bcrypt htpasswd line)

``serve`` prints ``listening on <url>`` on stdout once it accepts connections (with
``--addr 127.0.0.1:0`` the port is chosen then), and stops on SIGINT or SIGTERM. Exit statuses:
0, 1 for a failure, 125 for a bad flag or setting.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument

log = logging.getLogger("dockyard.registry")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockyard registry",
                                     description="An OCI distribution registry.")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_flags(commands.add_parser("serve", help="serve the registry"))
    gc = commands.add_parser("gc", help="remove blobs that no manifest references")
    gc.add_argument("--config", type=Path)
    gc.add_argument("--root")
    gc.add_argument("--grace", default="3600",
                    help="keep blobs linked or stored within this many seconds (default 3600)")
    gc.add_argument("--upload-ttl", default="86400",
                    help="prune upload sessions idle for this many seconds (default 86400)")
    gc.add_argument("--delete-untagged", action="store_true",
                    help="also remove manifests no tag reaches")
    gc.add_argument("--dry-run", action="store_true", help="report only")
    pw = commands.add_parser("htpasswd", help="print an htpasswd line with a bcrypt hash")
    pw.add_argument("user")
    pw.add_argument("password", nargs="?")
    return parser


def _serve_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--config", type=Path, help="TOML or JSON settings file")
    serve.add_argument("--root", help="where blobs and repositories live")
    serve.add_argument("--addr", help="host:port to listen on (default 127.0.0.1:5000)")
    serve.add_argument("--tls-cert", help="PEM certificate chain; serves HTTPS with --tls-key")
    serve.add_argument("--tls-key", help="PEM private key")
    serve.add_argument("--auth", choices=("none", "basic", "token"),
                       help="access control (default: basic with --htpasswd, else none)")
    serve.add_argument("--htpasswd", help="htpasswd file with bcrypt hashes")
    serve.add_argument("--realm", help="basic realm, or the token endpoint URL to advertise")
    serve.add_argument("--service", help="token service name (default dockyard-registry)")
    serve.add_argument("--token-ttl", type=int, help="token lifetime in seconds (default 300)")
    serve.add_argument("--access", action="append", metavar="ACCOUNT:REPO-GLOB:ACTIONS",
                       help="grant actions (pull,push,delete,*) to an account, '*' (any "
                       "authenticated) or 'anonymous'; repeatable")
    serve.add_argument("--read-only", action="store_true", default=None,
                       help="refuse every write")
    serve.add_argument("--delete", action="store_true", default=None,
                       help="allow DELETE of manifests, tags and blobs")
    serve.add_argument("--max-upload-size", help="largest blob accepted (e.g. 2GiB)")
    serve.add_argument("--max-manifest-size", help="largest manifest accepted (default 4MiB)")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    from dockyard.registry.config import load_file

    data: dict[str, Any] = load_file(args.config) if args.config else {}
    if args.root:
        data["root"] = str(Path(args.root).resolve())
    for flag, key in (("addr", "addr"), ("read_only", "read_only"), ("delete", "delete"),
                      ("max_upload_size", "max_upload_size"),
                      ("max_manifest_size", "max_manifest_size")):
        if getattr(args, flag, None) is not None:
            data[key] = getattr(args, flag)
    if getattr(args, "tls_cert", None) or getattr(args, "tls_key", None):
        data["tls"] = {"cert": str(Path(args.tls_cert or "").resolve()),
                       "key": str(Path(args.tls_key or "").resolve())}
    auth = dict(data.get("auth") or {})
    for flag, key in (("auth", "mode"), ("realm", "realm"), ("service", "service"),
                      ("token_ttl", "token_ttl")):
        if getattr(args, flag, None) is not None:
            auth[key] = getattr(args, flag)
    if getattr(args, "htpasswd", None):
        auth["htpasswd"] = str(Path(args.htpasswd).resolve())
    if getattr(args, "access", None):
        auth["access"] = list(args.access)
    data["auth"] = auth
    return data


async def _serve(args: argparse.Namespace) -> int:
    from dockyard.registry.config import build
    from dockyard.registry.server import RegistryServer

    config = build(_settings(args))
    server = RegistryServer(config)
    host, port = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    scheme = "https" if config.tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on {scheme}://{shown}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0


def _gc(args: argparse.Namespace) -> int:
    from dockyard.registry.config import build
    from dockyard.registry.gc import collect
    from dockyard.registry.storage import RegistryStore

    config = build(_settings(args))
    report = collect(RegistryStore(config.root), grace=_seconds(args.grace),
                     upload_ttl=_seconds(args.upload_ttl),
                     delete_untagged=args.delete_untagged, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for digest in report.blobs:
        print(f"{verb} blob {digest}")
    for manifest in report.manifests:
        print(f"{verb} manifest {manifest}")
    print(f"{verb} {len(report.blobs)} blobs ({report.bytes_freed} bytes), {report.links} "
          f"links, {len(report.manifests)} manifests, {len(report.uploads)} uploads; "
          f"kept {report.kept} blobs")
    return 0


def _htpasswd(args: argparse.Namespace) -> int:
    from dockyard.registry.htpasswd import hash_password

    password = args.password if args.password is not None else getpass.getpass()
    print(f"{args.user}:{hash_password(password)}")
    return 0


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid duration {text!r}: want seconds or 30m, 1h, 2d") from exc


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return asyncio.run(_serve(args))
        if args.command == "gc":
            return _gc(args)
        return _htpasswd(args)
    except InvalidArgument as exc:
        print(f"dockyard registry: {exc}", file=sys.stderr)
        return 125
    except DockyardError as exc:
        print(f"dockyard registry: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
