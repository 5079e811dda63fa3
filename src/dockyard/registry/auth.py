"""Registry credentials and the ``WWW-Authenticate`` challenge flow of a distribution client.

A registry that wants credentials answers 401 with one or more challenges (RFC 7235)::

    WWW-Authenticate: Basic realm="registry"
    WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"

``Basic``: send the username and password on every request. ``Bearer`` (distribution's token
spec, token.md): ask the realm for a token covering the scopes the request needs, anonymously or
with the credentials, then send ``Authorization: Bearer <token>``. Tokens are cached per scope
set until they expire. A client with an identity token (an OAuth2 refresh token from an earlier
login) trades it at the realm with ``POST`` (oauth.md) instead of sending a password.

The daemon receives credentials from the CLI in the ``X-Registry-Auth`` header: base64url of a
JSON AuthConfig (engine-api.md 8). :func:`decode_registry_auth` reads it leniently, as dockerd
does: either base64 alphabet, padded or not, keys in any case, an ``auth`` field holding
``base64(user:password)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from dockyard.errors import InvalidArgument, Unauthorized

log = logging.getLogger(__name__)

CLIENT_ID = "docker"  # what docker sends as client_id; registries log it
DEFAULT_TOKEN_SECONDS = 60  # token.md: "if not given, the token is valid for 60 seconds"
_EARLY = 5.0  # renew a token this many seconds before it expires


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client may present to one registry. All empty: anonymous."""

    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token, traded for access tokens
    registry_token: str = ""  # a bearer token to send as it is
    server_address: str = ""

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def basic(self) -> str:
        """The ``Authorization`` value for HTTP basic auth."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


ANONYMOUS = Credentials()


def decode_registry_auth(value: str | None) -> Credentials:
    """The credentials of an ``X-Registry-Auth`` header (absent or empty: anonymous)."""
    if not value or not value.strip():
        return ANONYMOUS
    data = _b64decode(value.strip())
    if data is None:
        raise InvalidArgument("invalid X-Registry-Auth header: not base64")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"invalid X-Registry-Auth header: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: not a json object")
    return credentials_from_json(doc)


def credentials_from_json(doc: Mapping[str, object]) -> Credentials:
    """An AuthConfig object (``/auth`` body, X-Registry-Auth): keys match in any case, as Go's
    json package matches them; ``auth`` is ``base64(user:password)``."""
    fields = {str(k).lower(): v for k, v in doc.items()}

    def text(key: str) -> str:
        value = fields.get(key)
        return value if isinstance(value, str) else ""

    username, password = text("username"), text("password")
    if text("auth") and not (username or password):
        decoded = _b64decode(text("auth"))
        user, sep, secret = (decoded or b"").decode("utf-8", "replace").partition(":")
        if not sep:
            raise InvalidArgument("invalid auth configuration: auth is not base64(user:password)")
        username, password = user, secret
    return Credentials(username, password, text("identitytoken"), text("registrytoken"),
                       text("serveraddress"))


def _b64decode(text: str) -> bytes | None:
    stripped = text.rstrip("=")
    padded = stripped + "=" * (-len(stripped) % 4)
    for alphabet in (b"-_", b"+/"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


# -- challenges ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lower case) and parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*,?')
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?:\s+|$)")


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Every challenge of the ``WWW-Authenticate`` header values (RFC 7235 section 4.1)."""
    found: list[Challenge] = []
    for value in values:
        pos = 0
        while pos < len(value):
            scheme = _SCHEME.match(value, pos)
            if scheme is None:
                break
            pos = scheme.end()
            params: dict[str, str] = {}
            while (param := _PARAM.match(value, pos)) is not None:
                quoted, bare = param.group(2), param.group(3)
                raw = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
                params[param.group(1).lower()] = raw or ""
                pos = param.end()
            found.append(Challenge(scheme.group(1).lower(), params))
    return found


# -- authorizer ------------------------------------------------------------------------------

#: Sends one token request: (method, url, headers, body) -> (status, reason, body).
TokenFetch = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, str, bytes]]


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class Authorizer:
    """The ``Authorization`` header for requests to one registry, from its latest challenge.

    Safe to share between the threads of one pull or push.
    """

    def __init__(self, credentials: Credentials, fetch: TokenFetch,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self._fetch = fetch
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.refresh_token = ""  # an identity token the realm handed out (login)

    @property
    def scheme(self) -> str | None:
        return self._challenge.scheme if self._challenge else None

    def challenged(self, header_values: Sequence[str]) -> bool:
        """Learn the registry's challenge from a 401; True if there is one this client can
        answer (basic or bearer). A bearer challenge drops the cached tokens it refuses."""
        usable = [c for c in parse_challenges(header_values) if c.scheme in ("basic", "bearer")]
        if not usable:
            return False
        bearer = [c for c in usable if c.scheme == "bearer"]
        chosen = bearer[0] if bearer else usable[0]
        with self._lock:
            if chosen.scheme == "bearer" and chosen.params.get("error"):
                self._tokens.clear()
            self._challenge = chosen
        return True

    def header(self, scopes: Sequence[str]) -> str | None:
        """The ``Authorization`` value for a request needing ``scopes``; None before any
        challenge. Unauthorized when the challenge cannot be answered."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if not (self.credentials.username or self.credentials.password):
                raise Unauthorized("no basic auth credentials")
            return self.credentials.basic()
        if self.credentials.registry_token:
            return f"Bearer {self.credentials.registry_token}"
        return f"Bearer {self._token(challenge, scopes)}"

    def _token(self, challenge: Challenge, scopes: Sequence[str]) -> str:
        key = " ".join(sorted(set(scopes)))
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.expires > self._clock():
                return cached.value
        token = self._request_token(challenge, sorted(set(scopes)))
        with self._lock:
            self._tokens[key] = token
        return token.value

    def _request_token(self, challenge: Challenge, scopes: Sequence[str]) -> _Token:
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise Unauthorized(f"bearer challenge has no usable realm: {realm!r}")
        service = challenge.params.get("service", "")
        creds = self.credentials
        if creds.identity_token:
            form = [("grant_type", "refresh_token"), ("refresh_token", creds.identity_token),
                    ("service", service), ("client_id", CLIENT_ID), ("access_type", "offline")]
            body = urlencode(form + [("scope", s) for s in scopes]).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            status, reason, data = self._fetch("POST", realm, headers, body)
            url = realm
        else:
            query: list[tuple[str, str]] = []
            headers = {}
            if creds.username or creds.password:
                query += [("account", creds.username), ("client_id", CLIENT_ID),
                          ("offline_token", "true")]
                headers["Authorization"] = creds.basic()
            if service:
                query.append(("service", service))
            query += [("scope", s) for s in scopes]
            url = realm + ("&" if "?" in realm else "?") + urlencode(sorted(query))
            status, reason, data = self._fetch("GET", url, headers, None)
        return self._parse_token(status, reason, data, url)

    def _parse_token(self, status: int, reason: str, data: bytes, url: str) -> _Token:
        if status != 200:
            raise Unauthorized(token_error(status, reason, data, url))
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise Unauthorized(f"token from {url} is not json: {exc}") from exc
        if not isinstance(doc, dict):
            raise Unauthorized(f"token from {url} is not a json object")
        value = doc.get("token") or doc.get("access_token")
        if not isinstance(value, str) or not value:
            raise Unauthorized(f"authorization server at {url} did not include a token")
        refresh = doc.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self.refresh_token = refresh
        seconds = doc.get("expires_in")
        ttl = seconds if isinstance(seconds, int) and seconds > 0 else DEFAULT_TOKEN_SECONDS
        return _Token(value, self._clock() + max(ttl - _EARLY, 1.0))


def token_error(status: int, reason: str, data: bytes, url: str) -> str:
    """dockerd's wording for a refused token request: the registry's errors, else the status."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = str(first.get("code", "unknown")).lower().replace("_", " ")
            return f"{code}: {first.get('message', '')}"
        for key in ("details", "error_description", "error"):
            if isinstance(doc.get(key), str) and doc[key]:
                return f"{status} {reason}: {doc[key]}"
    return f"token auth attempt for registry: {url} request failed with status: {status} {reason}"


def repository_scope(name: str, *actions: str) -> str:
    """``repository:<name>:<actions>`` (token-scope.md)."""
    return f"repository:{name}:{','.join(actions)}"
