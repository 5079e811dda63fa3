"""``pull``, ``push``, ``login`` and ``logout``: images to and from registries, through the
daemon, with docker's flags, requests and output.

Credentials live in dockyard's own config file in docker's format (see
:mod:`dockyard.cli.credentials`); the daemon gets those of the registry in question in
``X-Registry-Auth`` (``e30=`` when there are none), as the docker CLI sends them.
"""

from __future__ import annotations

import getpass
import io
from typing import Any, TextIO

from dockyard.cli.flags import Command, Flag, Parsed
from dockyard.cli.session import Session, StatusError

_PLATFORM = Flag("platform", "", "string", "Set platform if server is multi-platform capable")
PULL = Command("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", (
    Flag("all-tags", "a", help="Download all tagged images in the repository"),
    Flag("disable-content-trust", "", help="Skip image verification (default true)"),
    _PLATFORM,
    Flag("quiet", "q", help="Suppress verbose output"),
), min_args=1, max_args=1, aliases="dockyard image pull, dockyard pull")
IMAGE_PULL = Command("image pull", PULL.usage, PULL.short, PULL.flags, min_args=1, max_args=1,
                     aliases=PULL.aliases)
PUSH = Command("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", (
    Flag("all-tags", "a", help="Push all tags of an image to the repository"),
    Flag("disable-content-trust", "", help="Skip image signing (default true)"),
    Flag("quiet", "q", help="Suppress verbose output"),
), min_args=1, max_args=1, aliases="dockyard image push, dockyard push")
IMAGE_PUSH = Command("image push", PUSH.usage, PUSH.short, PUSH.flags, min_args=1, max_args=1,
                     aliases=PUSH.aliases)
LOGIN = Command("login", "[OPTIONS] [SERVER]", "Authenticate to a registry", (
    Flag("password", "p", "string", "Password or Personal Access Token (PAT)"),
    Flag("password-stdin", "", help="Take the Password or Personal Access Token (PAT) from "
         "stdin"),
    Flag("username", "u", "string", "Username"),
), max_args=1)
LOGOUT = Command("logout", "[SERVER]", "Log out from a registry", (), max_args=1)


def _store(session: Session) -> Any:
    from dockyard.cli.credentials import CredentialStore, config_path

    return CredentialStore(config_path(session.environ))


def _auth_header(session: Session, domain: str) -> str:
    from dockyard.cli.credentials import registry_auth_header

    return registry_auth_header(_store(session).get(domain))


def _reference(text: str) -> Any:
    from dockyard.errors import InvalidArgument
    from dockyard.oci.reference import parse_reference

    try:
        reference = parse_reference(text)
        return reference.without_tag() if reference.digest is not None else reference
    except InvalidArgument as exc:
        raise StatusError(f"invalid reference format: {exc}", 1) from exc


def _stream(session: Session, path: str, query: dict[str, str | list[str]], auth: str,
            quiet: bool) -> list[dict[str, Any]]:
    from dockyard.cli.progress import display
    from dockyard.client.engine import decode_lines

    response = session.client().request("POST", path, query,
                                         headers={"X-Registry-Auth": auth})
    out: TextIO = io.StringIO() if quiet else session.out
    return display(decode_lines(response), out, terminal=session.out_is_terminal() and not quiet)


def run_pull(session: Session, command: Command, parsed: Parsed) -> int:
    reference = _reference(parsed.args[0])
    all_tags = parsed.flag("all_tags")
    if all_tags and (reference.tag is not None or reference.digest is not None):
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    quiet = parsed.flag("quiet")
    if not all_tags and reference.tag is None and reference.digest is None:
        reference = reference.with_default_tag()
        if not quiet:
            session.out.write("Using default tag: latest\n")
    query: dict[str, str | list[str]] = {"fromImage": reference.repository}
    if reference.digest is not None:
        query["tag"] = str(reference.digest)
    elif reference.tag is not None:
        query["tag"] = reference.tag
    if parsed.string("platform"):
        query["platform"] = parsed.string("platform").lower()
    _stream(session, "/images/create", query, _auth_header(session, reference.domain), quiet)
    session.out.write(f"{reference.fully_qualified()}\n")
    return 0


def run_push(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client.engine import image_path

    reference = _reference(parsed.args[0])
    all_tags = parsed.flag("all_tags")
    if all_tags and reference.tag is not None:
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    quiet = parsed.flag("quiet")
    if not all_tags and reference.tag is None:
        reference = reference.with_default_tag()
        if not quiet:
            session.out.write("Using default tag: latest\n")
    query: dict[str, str | list[str]] = {"tag": reference.tag} if reference.tag else {}
    path = image_path(reference.familiar_name(), "/push")
    _stream(session, path, query, _auth_header(session, reference.domain), quiet)
    if quiet:
        session.out.write(f"{reference.familiar()}\n")
    return 0


def run_login(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.credentials import DOCKER_HUB, server_key

    server = server_key(parsed.args[0] if parsed.args else DOCKER_HUB)
    username, password = parsed.string("username"), parsed.string("password")
    if parsed.flag("password_stdin"):
        if password:
            raise StatusError("--password and --password-stdin are mutually exclusive", 1)
        if not username:
            raise StatusError("Must provide --username with --password-stdin", 1)
        password = session.stdin.read().decode().rstrip("\r\n")
    elif password:
        session.err.write("WARNING! Using --password via the CLI is insecure. "
                          "Use --password-stdin.\n")
    if not username:
        session.out.write("Username: ")
        session.out.flush()
        username = session.stdin.readline().decode().strip()
    if not password:
        password = getpass.getpass("Password: ")
    if not username or not password:
        raise StatusError("Error: Username and password are required", 1)
    body = {"username": username, "password": password, "serveraddress": server}
    answer = session.client().call("POST", "/auth", json_body=body) or {}
    token = str(answer.get("IdentityToken") or "")
    store = _store(session)
    store.store(server, username, password, token)
    session.err.write(f"\nWARNING! Your credentials are stored unencrypted in "
                      f"'{store.path}'.\n\n")
    session.out.write(f"{answer.get('Status') or 'Login Succeeded'}\n")
    return 0


def run_logout(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.credentials import DOCKER_HUB, server_key

    server = server_key(parsed.args[0] if parsed.args else DOCKER_HUB)
    if _store(session).erase(server):
        session.out.write(f"Removing login credentials for {server}\n")
    else:
        session.out.write(f"Not logged in to {server}\n")
    return 0
