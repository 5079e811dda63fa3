"""The distribution API as a client speaks it, to one registry endpoint with one set of
credentials. Paths come from :mod:`dockyard.registry.routes`, the table the server uses.

Every call that meets a 401 learns the registry's challenge and tries once more with an
``Authorization`` header (:mod:`dockyard.registry.auth`); later calls send it at once. A refused
request raises :class:`ResponseError`, worded as Go's errcode errors (``manifest unknown:
manifest unknown``) so that the daemon can word its own errors as dockerd does.

Uploads are monolithic when the size is known (``POST`` then ``PUT ?digest=`` with the body) and
chunked otherwise (``PATCH`` with a chunked body, then ``PUT ?digest=``), as docker streams a
layer it compresses while it sends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urljoin

from dockyard.errors import (
    DataCorrupt,
    DockyardError,
    InvalidArgument,
    Unauthorized,
    Unsupported,
)
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest
from dockyard.registry import routes
from dockyard.registry.auth import ANONYMOUS, Authorizer, Credentials, repository_scope
from dockyard.registry.transport import Body, Endpoint, RemoteError, Reply, Transport

log = logging.getLogger(__name__)

MANIFEST_ACCEPT = (mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST,
                   mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, mt.DOCKER_SCHEMA1_MANIFEST)
MAX_MANIFEST = 4 << 20
BASE_PATH = "/v2/"  # routes.Endpoint.BASE
PULL = "pull"
PUSH = "push"

_STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 416: "Requested Range Not Satisfiable",
                429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Unavailable"}


class ResponseError(RemoteError):
    """A registry refused a request. ``codes`` are the spec's error codes of its answer
    (``MANIFEST_UNKNOWN``, ``DENIED``...), empty when it gave none."""

    def __init__(self, message: str, status: int, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)


def response_error(reply: Reply, body: bytes) -> ResponseError:
    """The error a refused request reads as (distribution's client ``HandleErrorResponse``)."""
    status = reply.status
    try:
        doc = json.loads(body) if body.strip() else None
    except ValueError:
        doc = None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        codes = [str(e.get("code", "UNKNOWN")) for e in errors]
        texts = [f"{_code_text(c)}: {e.get('message', '')}" for c, e in zip(codes, errors,
                                                                           strict=True)]
        message = texts[0] if len(texts) == 1 else "errors:\n" + "\n".join(texts) + "\n"
        return ResponseError(message, status, codes)
    if isinstance(doc, dict) and isinstance(doc.get("details"), str) and doc["details"]:
        code = "UNAUTHORIZED" if status == 401 else "UNKNOWN"
        return ResponseError(f"{_code_text(code)}: {doc['details']}", status, [code])
    if status == 401:
        return ResponseError("unauthorized: authentication required", status, ["UNAUTHORIZED"])
    if 400 <= status < 500:
        reason = "no error details found in HTTP response body" if doc is not None or \
            not body.strip() else "invalid character in response body"
        return ResponseError(f"error parsing HTTP {status} response body: {reason}: "
                             f"{json.dumps(body[:200].decode('utf-8', 'replace'))}", status)
    text = _STATUS_TEXT.get(status, reply.reason)
    return ResponseError(f"received unexpected HTTP status: {status} {text}", status)


def _code_text(code: str) -> str:
    return code.lower().replace("_", " ")


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    """A manifest or index as the registry served it: bytes, media type, digest."""

    data: bytes
    media_type: str
    digest: Digest


class RegistryClient:
    """Calls to one endpoint. Safe to share between the threads of one pull or push."""

    def __init__(self, transport: Transport, endpoint: Endpoint,
                 credentials: Credentials = ANONYMOUS) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.authorizer = Authorizer(credentials, self._fetch_token)

    # -- basics ------------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: check the endpoint speaks the API and learn its challenge."""
        url = self.endpoint.url + BASE_PATH
        reply = self.transport.request("GET", url, verify=self.endpoint.verify)
        body = reply.read(MAX_MANIFEST)
        if reply.status == 401:
            self.authorizer.challenged(reply.headers("www-authenticate"))
            return
        if reply.status != 200:
            raise response_error(reply, body)

    def login(self) -> Reply:
        """``GET /v2/`` with the credentials (after :meth:`ping`); the reply, read."""
        return self.call("GET", BASE_PATH, (), ok=frozenset(range(100, 600)))

    def call(self, method: str, path: str, scopes: Sequence[str], *,
             headers: dict[str, str] | None = None, body: Body = None,
             ok: frozenset[int] = frozenset({200})) -> Reply:
        """One request with credentials; ResponseError unless its status is in ``ok``. The
        reply's body is unread (except for a refusal)."""
        url = path if path.startswith(("http://", "https://")) else self.endpoint.url + path
        for attempt in range(2):
            all_headers = dict(headers or {})
            authorization = self.authorizer.header(scopes)
            if authorization is not None:
                all_headers["Authorization"] = authorization
            reply = self.transport.request(method, url, all_headers, body,
                                           verify=self.endpoint.verify)
            if reply.status in ok:
                return reply
            data = reply.read(MAX_MANIFEST)
            if reply.status == 401 and attempt == 0 and _resendable(body) and \
                    self.authorizer.challenged(reply.headers("www-authenticate")):
                continue
            raise response_error(reply, data)
        raise RemoteError(f"{method} {url}: unauthorized")  # not reached

    def _fetch_token(self, method: str, url: str, headers: Mapping[str, str],
                     body: bytes | None) -> tuple[int, str, bytes]:
        verify = self.endpoint.verify if url.startswith(self.endpoint.url) else True
        reply = self.transport.request(method, url, headers, body, verify=verify)
        return reply.status, reply.reason, reply.read(MAX_MANIFEST)

    # -- manifests ---------------------------------------------------------------------------

    def manifest(self, name: str, reference: str | Digest,
                 accept: Sequence[str] = MANIFEST_ACCEPT) -> FetchedManifest:
        """The manifest or index ``name:reference`` (a tag or a digest), verified against the
        digest asked for or the one the registry names."""
        path = routes.manifest_path(name, reference)
        try:
            reply = self.call("GET", path, [repository_scope(name, PULL)],
                              headers={"Accept": ", ".join(accept)})
        except Unauthorized as exc:  # no credentials for the challenge, or no token
            raise RemoteError(f'Get "{self.endpoint.url}{path}": {exc}') from exc
        length = reply.length
        if length is not None and length > MAX_MANIFEST:
            reply.close()
            raise DataCorrupt(f"manifest {name}:{reference} is {length} bytes, more than "
                              f"{MAX_MANIFEST}")
        data = reply.read()
        media_type = (reply.header("content-type") or "").split(";")[0].strip()
        if not media_type or media_type in ("application/json", "text/plain"):
            declared = _declared_media_type(data)
            media_type = declared or media_type
        if mt.is_schema1(media_type):
            raise Unsupported(f"{name}:{reference} is a Docker image manifest v2, schema 1; "
                              "it is no longer supported: push it again with a newer client")
        actual = Digest.of(data)
        expected = reference if isinstance(reference, Digest) else None
        given = reply.header("docker-content-digest")
        if expected is None and given:
            try:
                expected = Digest.parse(given.strip())
            except DockyardError:
                expected = None
        if expected is not None and expected.algorithm == "sha256" and expected != actual:
            raise DataCorrupt(f"manifest verification failed for digest {expected}: "
                              f"the registry sent {actual}")
        return FetchedManifest(data, media_type, actual)

    def put_manifest(self, name: str, reference: str, data: bytes, media_type: str) -> Digest:
        reply = self.call("PUT", routes.manifest_path(name, reference),
                          [repository_scope(name, PULL, PUSH)],
                          headers={"Content-Type": media_type}, body=data,
                          ok=frozenset({200, 201, 202}))
        reply.read()
        return Digest.of(data)

    def tags(self, name: str) -> list[str]:
        """Every tag of ``name``, following ``Link`` pages."""
        found: list[str] = []
        path: str | None = routes.tags_path(name)
        while path is not None:
            reply = self.call("GET", path, [repository_scope(name, PULL)])
            link = reply.header("link")
            doc = json.loads(reply.read() or b"{}")
            found += [t for t in (doc.get("tags") or []) if isinstance(t, str)]
            path = _next_link(link)
        return found

    # -- blobs -------------------------------------------------------------------------------

    def open_blob(self, name: str, digest: Digest, offset: int = 0) -> Reply:
        """The blob's bytes from ``offset`` (status 206), or from 0 (200) if the registry does
        not serve ranges. Redirects (to a storage backend) are followed."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        reply = self.call("GET", routes.blob_path(name, digest), [repository_scope(name, PULL)],
                          headers=headers, ok=frozenset({200, 206, 307, 302, 301, 303, 308}))
        for _ in range(5):
            if reply.status not in (301, 302, 303, 307, 308):
                return reply
            location = reply.header("location") or ""
            reply.read()
            url = urljoin(reply.url, location)
            reply = self.transport.request("GET", url, headers, verify=True)
            if reply.status not in (200, 206, 301, 302, 303, 307, 308):
                raise response_error(reply, reply.read(MAX_MANIFEST))
        raise RemoteError(f"too many redirects fetching blob {digest} of {name}")

    def stat_blob(self, name: str, digest: Digest, *actions: str) -> int | None:
        """The blob's size if the repository has it, else None (``HEAD``)."""
        reply = self.call("HEAD", routes.blob_path(name, digest),
                          [repository_scope(name, *(actions or (PULL,)))],
                          ok=frozenset({200, 404}))
        reply.read()
        if reply.status == 404:
            return None
        return reply.length if reply.length is not None else 0

    def mount_blob(self, name: str, digest: Digest, source: str) -> bool:
        """Cross-repository mount from ``source``; True if the registry mounted it."""
        path = f"{routes.uploads_path(name)}?mount={quote(str(digest))}&from={quote(source)}"
        scopes = [repository_scope(name, PULL, PUSH), repository_scope(source, PULL)]
        try:
            reply = self.call("POST", path, scopes, ok=frozenset({201, 202}))
        except ResponseError as exc:
            log.debug("mount of %s from %s into %s refused: %s", digest, source, name, exc)
            return False
        location = reply.header("location")
        reply.read()
        if reply.status == 202 and location:
            self._cancel(name, location)
        return reply.status == 201

    def upload_blob(self, name: str, digest: Digest | None, chunks: Iterable[bytes],
                    size: int | None, *, digest_after: Callable[[], Digest] | None = None,
                    ) -> Digest:
        """Upload a blob. With ``size``, one monolithic ``PUT``; without, a chunked ``PATCH``
        and then ``PUT``, the digest then coming from ``digest_after`` once the chunks are
        spent (a blob compressed while it is sent)."""
        scopes = [repository_scope(name, PULL, PUSH)]
        reply = self.call("POST", routes.uploads_path(name), scopes, ok=frozenset({202}))
        location = self._location(reply)
        reply.read()
        if size is not None and digest is not None:
            url = _with_query(location, f"digest={quote(str(digest))}")
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            self.call("PUT", url, scopes, headers=headers, body=chunks,
                      ok=frozenset({201})).read()
            return digest
        headers = {"Content-Type": "application/octet-stream"}
        reply = self.call("PATCH", location, scopes, headers=headers, body=iter(chunks),
                          ok=frozenset({202, 204}))
        location = self._location(reply, location)
        reply.read()
        final = digest if digest is not None else _required(digest_after)()
        url = _with_query(location, f"digest={quote(str(final))}")
        self.call("PUT", url, scopes, headers={"Content-Length": "0"}, body=b"",
                  ok=frozenset({201})).read()
        return final

    def _location(self, reply: Reply, default: str | None = None) -> str:
        location = reply.header("location") or default
        if not location:
            raise RemoteError(f"{reply.method} {reply.url}: the registry gave no upload location")
        return urljoin(reply.url, location)

    def _cancel(self, name: str, location: str) -> None:
        try:
            self.call("DELETE", location, [repository_scope(name, PULL, PUSH)],
                      ok=frozenset(range(100, 600))).read()
        except DockyardError as exc:
            log.debug("could not cancel upload %s: %s", location, exc)


def _resendable(body: Body) -> bool:
    return body is None or isinstance(body, bytes)


def _declared_media_type(data: bytes) -> str | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if isinstance(doc, dict):
        declared = doc.get("mediaType")
        if isinstance(declared, str):
            return declared
        if doc.get("schemaVersion") == 1:
            return mt.DOCKER_SCHEMA1_MANIFEST
        if "manifests" in doc:
            return mt.OCI_INDEX
        return mt.OCI_MANIFEST
    return None


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def _next_link(link: str | None) -> str | None:
    if not link or 'rel="next"' not in link:
        return None
    start, end = link.find("<"), link.find(">")
    return link[start + 1:end] if 0 <= start < end else None


def _required(fn: Callable[[], Digest] | None) -> Callable[[], Digest]:
    if fn is None:
        raise InvalidArgument("a chunked upload needs the blob's digest or digest_after")
    return fn


def iter_reader(read: Callable[[int], bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """The chunks of a reader, until it returns b""."""
    while chunk := read(size):
        yield chunk
