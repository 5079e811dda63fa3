"""The Engine API client: version negotiation, JSON calls, JSON-line streams and tar bodies.

It behaves like the Go client the docker CLI uses (moby ``client/``): every session starts with
``HEAD /_ping`` and speaks min(our maximum, the daemon's ``Api-Version``); requests carry a
``/v1.xx`` prefix; query parameters are sorted by name; error bodies ``{"message": ...}`` become
the error taxonomy by status code (400 InvalidArgument, 404 NotFound, 409 Conflict, ...), as
moby's ``errdefs`` does, each also marked as a :class:`DaemonError` so the CLI can print
"Error response from daemon: ...".
"""

from __future__ import annotations

from dockyard import errors
from dockyard.client import wirejson
from dockyard.client.transport import DEFAULT_HOST, Address, Connection, Response

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import IO, Any

MAX_API_VERSION = "1.41"
FALLBACK_API_VERSION = "1.24"  # what the Go client assumes when /_ping has no Api-Version
USER_AGENT = "dockyard-client"
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class DaemonError(errors.DockyardError):
    """Marks an error the daemon answered with (the CLI prefixes "Error response from daemon")."""

    status: int = 500


class DaemonInvalidArgument(errors.InvalidArgument, DaemonError):
    pass


class DaemonNotFound(errors.NotFound, DaemonError):
    pass


class DaemonConflict(errors.Conflict, DaemonError):
    pass


class DaemonUnauthorized(errors.Unauthorized, DaemonError):
    pass


class DaemonPermissionDenied(errors.PermissionDenied, DaemonError):
    pass


class DaemonUnavailable(errors.Unavailable, DaemonError):
    pass


class DaemonInternal(errors.Internal, DaemonError):
    pass


_BY_STATUS: dict[int, type[DaemonError]] = {
    400: DaemonInvalidArgument,
    401: DaemonUnauthorized,
    403: DaemonPermissionDenied,
    404: DaemonNotFound,
    409: DaemonConflict,
    503: DaemonUnavailable,
}


def daemon_error(status: int, body: bytes) -> DaemonError:
    """The taxonomy error for an error response: the class from the status, the daemon's text."""
    text = body.decode("utf-8", "replace").strip()
    message = text
    try:
        decoded = wirejson.loads(text) if text else None
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        message = decoded["message"]
    if not message:
        message = f"unexpected status {status} with an empty body"
    cls = _BY_STATUS.get(status, DaemonInternal)
    exc = cls(message)
    exc.status = status
    return exc


def quote(text: str, safe: str = "") -> str:
    """Percent-encode like Go's url.QueryEscape (space as %20 is fine for a server)."""
    keep = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def encode_query(query: Mapping[str, str | list[str]] | None) -> str:
    if not query:
        return ""
    parts: list[str] = []
    for key in sorted(query):
        values = query[key]
        for value in [values] if isinstance(values, str) else values:
            parts.append(f"{quote(key)}={quote(value)}")
    return "?" + "&".join(parts) if parts else ""


def encode_filters(filters: Mapping[str, list[str]]) -> str:
    """The map form the CLI sends: ``{"reference":{"busybox":true}}``."""
    return wirejson.dumps({k: {v: True for v in vs} for k, vs in filters.items()})


class Ping:
    """What /_ping told: the advertised API version ("" if none), OS type, experimental."""

    __slots__ = ("api_version", "experimental", "os_type")

    def __init__(self, api_version: str, os_type: str, experimental: bool) -> None:
        self.api_version = api_version
        self.os_type = os_type
        self.experimental = experimental



def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


class Client:
    """One client of one daemon; reuses a single keep-alive connection."""

    def __init__(self, host: str = DEFAULT_HOST, *, api_version: str | None = None,
                 timeout: float | None = None) -> None:
        self.address = Address.parse(host)
        self.host = self.address.url
        self._conn = Connection(self.address, timeout)
        self._version = api_version

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- negotiation ---------------------------------------------------------------------------

    def ping(self) -> Ping:
        """HEAD /_ping (GET if HEAD is refused), as CLI 28 does; 500 still carries headers."""
        response = self._conn.request("HEAD", "/_ping", {"User-Agent": USER_AGENT})
        response.read()
        if response.status not in (200, 500):
            response = self._conn.request("GET", "/_ping", {"User-Agent": USER_AGENT})
            body = response.read()
            if response.status >= 400 and response.status != 500:
                raise daemon_error(response.status, body)
        h = response.headers
        return Ping(h.get("api-version", ""), h.get("ostype", ""),
                    h.get("docker-experimental", "").lower() == "true")

    @property
    def api_version(self) -> str:
        """The negotiated version: min(1.41, the daemon's), pinging on first use."""
        if self._version is None:
            advertised = self.ping().api_version or FALLBACK_API_VERSION
            if _version_tuple(advertised) < _version_tuple(MAX_API_VERSION):
                self._version = advertised
            else:
                self._version = MAX_API_VERSION
        return self._version

    # -- requests ------------------------------------------------------------------------------

    def request(self, method: str, path: str, query: Mapping[str, str | list[str]] | None = None,
                *, body: bytes | IO[bytes] | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        """Send a request under /v<version>; raise the taxonomy error for a status >= 400."""
        target = f"/v{self.api_version}{path}{encode_query(query)}"
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        response = self._conn.request(method, target, all_headers, body)
        if response.status >= 400:
            raise daemon_error(response.status, response.read())
        return response

    def call(self, method: str, path: str, query: Mapping[str, str | list[str]] | None = None,
             *, json_body: object = None) -> Any:
        """A JSON call: a JSON body in (if given), the decoded JSON answer out (None if empty)."""
        body = None
        headers: dict[str, str] = {}
        if json_body is not None:
            body = wirejson.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        data = self.request(method, path, query, body=body, headers=headers).read()
        if not data.strip():
            return None
        try:
            return wirejson.loads(data)
        except ValueError as exc:
            raise errors.DataCorrupt(f"bad JSON from the daemon for {method} {path}") from exc

    def get(self, path: str, query: Mapping[str, str | list[str]] | None = None) -> Any:
        return self.call("GET", path, query)

    def stream(self, method: str, path: str, query: Mapping[str, str | list[str]] | None = None,
               *, body: bytes | IO[bytes] | None = None,
               headers: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """A JSON-lines answer (pull, load, import), one decoded object per line."""
        return decode_lines(self.request(method, path, query, body=body, headers=headers))

    def download(self, path: str, query: Mapping[str, str | list[str]] | None,
                 out: IO[bytes]) -> int:
        """Copy a (tar) body to ``out`` as it arrives; returns the byte count."""
        total = 0
        for chunk in self.request("GET", path, query).chunks():
            out.write(chunk)
            total += len(chunk)
        return total

    def upload(self, path: str, query: Mapping[str, str | list[str]] | None,
               source: IO[bytes], content_type: str = "application/x-tar") -> Response:
        """POST a body streamed chunked from ``source``; returns the (unread) response."""
        return self.request("POST", path, query, body=source,
                            headers={"Content-Type": content_type})


def decode_lines(response: Response) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines body, one per line, as they arrive."""
    for line in response.lines():
        try:
            message = wirejson.loads(line)
        except ValueError as exc:
            raise errors.DataCorrupt(f"bad JSON line from the daemon: {line[:80]!r}") from exc
        if isinstance(message, dict):
            yield message


def image_path(name: str, suffix: str = "") -> str:
    """``/images/<name><suffix>`` with the name unescaped as the Go client sends it."""
    return f"/images/{quote(name, safe='/:@')}{suffix}"
