"""Access to the registry: anonymous, htpasswd basic auth, or bearer tokens from its own endpoint.

Each request needs some scopes (pull on a repository, push, delete, the catalog). A guard finds
who is asking and whether they hold those scopes, or refuses with the spec's codes:

* no credentials where some are needed: 401 UNAUTHORIZED with a ``WWW-Authenticate`` challenge
  (``Basic realm=...``, or ``Bearer realm=...,service=...,scope=...`` naming what to ask for);
* wrong credentials or a bad token: 401 UNAUTHORIZED (``error="invalid_token"`` for tokens);
* an authenticated client without the needed actions: 403 DENIED (basic), or 401 DENIED with
  ``error="insufficient_scope"`` (bearer, RFC 6750 3.1, so a client asks for a wider token).

``GET /v2/`` needs no scope but, when auth is on, valid credentials: it is how ``docker login``
checks them and how a client learns the challenge.

The token endpoint (``GET /token?service=&scope=``, with optional basic credentials, and the
OAuth2 password grant as ``POST /token``) grants each requested scope the subset of actions the
policy allows the account; an anonymous request gets the anonymous account's subset.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs

from dockyard.errors import DockyardError, Unauthorized
from dockyard.registry import errcode
from dockyard.registry.access import Policy, Scope, parse_scopes
from dockyard.registry.errcode import RegistryError
from dockyard.registry.htpasswd import Htpasswd
from dockyard.registry.http import Request, Response
from dockyard.registry.tokens import Grant, TokenAuthority

_MAX_FORM = 64 * 1024


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request comes from (None: anonymous) and a test of what else it may do (pull
    from a mount's source, see a repository in the catalog): by the policy, or what a token
    grants beyond it."""

    account: str | None
    can: Callable[[Scope], bool]


class Guard(Protocol):
    async def check(self, request: Request, needed: Sequence[Scope], login: bool) -> Identity:
        """The caller's identity if it holds ``needed``; RegistryError otherwise. ``login``:
        refuse anonymous callers even when nothing is needed (``GET /v2/``)."""
        ...


class OpenGuard:
    """No authentication: everyone may do everything."""

    async def check(self, request: Request, needed: Sequence[Scope], login: bool) -> Identity:
        return Identity(None, lambda scope: True)


class BasicGuard:
    """htpasswd users over HTTP basic auth, with a policy for what each may do."""

    def __init__(self, htpasswd: Htpasswd, policy: Policy, realm: str = "dockyard-registry"):
        self._htpasswd = htpasswd
        self._policy = policy
        self._challenge = {"WWW-Authenticate": f'Basic realm="{_quote(realm)}"'}

    async def check(self, request: Request, needed: Sequence[Scope], login: bool) -> Identity:
        account = await authenticate(self._htpasswd, request, self._challenge)
        if account is None and login:
            raise _unauthorized(needed, self._challenge)
        for scope in needed:
            if self._policy.granted(account, scope) != scope.actions:
                if account is None:
                    raise _unauthorized(needed, self._challenge)
                raise _denied(scope, account)
        policy = self._policy
        return Identity(account, lambda s: policy.granted(account, s) == s.actions)


class TokenGuard:
    """Bearer tokens issued by :meth:`token` (the ``/token`` endpoint) and checked here."""

    def __init__(self, authority: TokenAuthority, policy: Policy, htpasswd: Htpasswd | None,
                 realm: str | None = None) -> None:
        self._authority = authority
        self._policy = policy
        self._htpasswd = htpasswd
        self._realm = realm

    async def check(self, request: Request, needed: Sequence[Scope], login: bool) -> Identity:
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(needed, self._challenge(request, needed))
        try:
            grant = self._authority.verify(token.strip())
        except Unauthorized as exc:
            raise _unauthorized(needed, self._challenge(request, needed, "invalid_token"),
                                str(exc)) from exc
        for scope in needed:
            if not grant.allows(scope):
                challenge = self._challenge(request, needed, "insufficient_scope")
                raise _denied(scope, grant.account, status=401, headers=challenge)
        policy = self._policy
        return Identity(grant.account, lambda s: grant.allows(s)
                        or policy.granted(grant.account, s) == s.actions)

    async def token(self, request: Request) -> Response:
        """``GET /token`` (basic credentials optional) or ``POST /token`` (password grant)."""
        if request.method == "POST":
            return await self._oauth(request)
        account = await authenticate(self._htpasswd, request, {})
        scopes = _scopes(request.query.get("scope", []))
        issued = self._authority.issue(account, self._grant(account, scopes))
        body = {"token": issued.token, "access_token": issued.token,
                "expires_in": issued.expires_in, "issued_at": _rfc3339(issued.issued_at)}
        return _json(body)

    async def _oauth(self, request: Request) -> Response:
        try:
            form = parse_qs((await request.body.read_all(_MAX_FORM)).decode(),
                            keep_blank_values=True)
        except (DockyardError, UnicodeDecodeError) as exc:
            raise RegistryError(errcode.UNSUPPORTED, f"bad token request form: {exc}",
                                status=400) from exc
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            raise RegistryError(errcode.UNSUPPORTED, f"unsupported grant_type {grant_type!r}: "
                                "only password is supported", status=400)
        user = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        account = await _verify(self._htpasswd, user, password, {})
        scopes = _scopes(form.get("scope", []))
        issued = self._authority.issue(account, self._grant(account, scopes))
        return _json({"access_token": issued.token, "token_type": "Bearer",
                      "expires_in": issued.expires_in, "issued_at": _rfc3339(issued.issued_at),
                      "scope": " ".join(str(s) for s in scopes)})

    def _grant(self, account: str | None, scopes: Sequence[Scope]) -> list[Scope]:
        return [Scope(s.type, s.name, self._policy.granted(account, s)) for s in scopes]

    def _challenge(self, request: Request, needed: Sequence[Scope],
                   error: str | None = None) -> dict[str, str]:
        realm = self._realm or f"{'https' if request.secure else 'http'}://" \
            f"{request.headers.get('host') or 'localhost'}/token"
        value = f'Bearer realm="{_quote(realm)}",service="{_quote(self._authority.service)}"'
        if needed:
            value += f',scope="{" ".join(str(s) for s in needed)}"'
        if error:
            value += f',error="{error}"'
        return {"WWW-Authenticate": value}


async def authenticate(htpasswd: Htpasswd | None, request: Request,
                       challenge: dict[str, str]) -> str | None:
    """The account named by valid basic credentials, None when there are none; 401 if wrong."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise RegistryError(errcode.UNAUTHORIZED, "malformed basic credentials",
                            headers=challenge) from exc
    if not sep:
        raise RegistryError(errcode.UNAUTHORIZED, "malformed basic credentials", headers=challenge)
    return await _verify(htpasswd, user, password, challenge)


async def _verify(htpasswd: Htpasswd | None, user: str, password: str,
                  challenge: dict[str, str]) -> str:
    if htpasswd is None or not user or not await asyncio.to_thread(htpasswd.verify, user,
                                                                     password):
        raise RegistryError(errcode.UNAUTHORIZED, f"invalid username or password for {user!r}",
                            headers=challenge)
    return user


def _scopes(values: Sequence[str]) -> list[Scope]:
    try:
        return parse_scopes(values)
    except DockyardError as exc:
        raise RegistryError(errcode.UNSUPPORTED, str(exc), status=400) from exc


def _unauthorized(needed: Sequence[Scope], challenge: dict[str, str],
                  message: str | None = None) -> RegistryError:
    detail = [s.to_json() for s in needed] or None
    return RegistryError(errcode.UNAUTHORIZED, message or "authentication required",
                         detail=detail, headers=challenge)


def _denied(scope: Scope, account: str | None, status: int | None = None,
            headers: dict[str, str] | None = None) -> RegistryError:
    who = account or "anonymous"
    return RegistryError(errcode.DENIED, f"requested access to the resource is denied: {who} "
                         f"may not {','.join(sorted(scope.actions))} {scope.type} {scope.name}",
                         status=status, detail=scope.to_json(), headers=headers)


def _json(body: dict[str, object]) -> Response:
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


__all__ = ["BasicGuard", "Grant", "Guard", "Identity", "OpenGuard", "TokenGuard"]
