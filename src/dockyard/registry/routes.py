"""The URL paths of the distribution API, one table for the server and for clients.

Each :class:`Endpoint` is one row of the spec's endpoint table (spec.md, "Endpoints"); the
``end-*`` ids are the spec's. :func:`match` reads a request path, the ``*_path`` functions write
one. A repository name contains slashes, so a path is matched from its right end: the last
``/blobs/``, ``/manifests/``, ``/tags/list`` or ``/referrers/`` splits it, and the name is
checked afterwards (an invalid one is NAME_INVALID, not a 404).

    /v2/                                   BASE        end-1
    /v2/_catalog                           CATALOG     (distribution; not in the OCI spec)
    /v2/<name>/blobs/<digest>              BLOB        end-2, end-10
    /v2/<name>/manifests/<reference>       MANIFEST    end-3, end-7, end-9
    /v2/<name>/blobs/uploads/              UPLOADS     end-4a, end-4b, end-11
    /v2/<name>/blobs/uploads/<uuid>        UPLOAD      end-5, end-6, end-13 (and DELETE)
    /v2/<name>/tags/list                   TAGS        end-8a, end-8b
    /v2/<name>/referrers/<digest>          REFERRERS   end-12a, end-12b
    /token                                 TOKEN       the bearer token endpoint this server serves
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import quote

from dockyard.oci.digest import Digest


class Endpoint(enum.Enum):
    BASE = "base"
    CATALOG = "catalog"
    BLOB = "blob"
    MANIFEST = "manifest"
    UPLOADS = "uploads"
    UPLOAD = "upload"
    TAGS = "tags"
    REFERRERS = "referrers"
    TOKEN = "token"


#: The methods each endpoint answers; any other gets 405.
METHODS: dict[Endpoint, frozenset[str]] = {
    Endpoint.BASE: frozenset({"GET", "HEAD"}),
    Endpoint.CATALOG: frozenset({"GET"}),
    Endpoint.BLOB: frozenset({"GET", "HEAD", "DELETE"}),
    Endpoint.MANIFEST: frozenset({"GET", "HEAD", "PUT", "DELETE"}),
    Endpoint.UPLOADS: frozenset({"POST"}),
    Endpoint.UPLOAD: frozenset({"GET", "PATCH", "PUT", "DELETE"}),
    Endpoint.TAGS: frozenset({"GET"}),
    Endpoint.REFERRERS: frozenset({"GET"}),
    Endpoint.TOKEN: frozenset({"GET", "POST"}),
}

TOKEN_PATH = "/token"

# The name is the longest prefix that leaves a known suffix, as distribution's router has it.
_REPO_ROUTE = re.compile(
    r"/v2/(?P<name>.+)/(?:"
    r"blobs/uploads/(?P<upload>[^/]*)"
    r"|blobs/(?P<blob>[^/]+)"
    r"|manifests/(?P<manifest>[^/]+)"
    r"|(?P<tags>tags/list)"
    r"|referrers/(?P<referrers>[^/]+)"
    r")"
)


@dataclass(frozen=True, slots=True)
class Match:
    """A matched path: the endpoint, the repository name ("" when none) and the last segment
    (digest, reference or upload id; "" when none)."""

    endpoint: Endpoint
    name: str = ""
    arg: str = ""


def match(path: str) -> Match | None:
    """The endpoint of a decoded request path, or None for a path the API does not have."""
    if path in ("/v2/", "/v2"):
        return Match(Endpoint.BASE)
    if path == "/v2/_catalog":
        return Match(Endpoint.CATALOG)
    if path == TOKEN_PATH:
        return Match(Endpoint.TOKEN)
    found = _REPO_ROUTE.fullmatch(path)
    if found is None:
        return None
    name = found["name"]
    if found["upload"] is not None:
        return Match(Endpoint.UPLOADS if found["upload"] == "" else Endpoint.UPLOAD,
                     name, found["upload"])
    if found["blob"] is not None:
        return Match(Endpoint.BLOB, name, found["blob"])
    if found["manifest"] is not None:
        return Match(Endpoint.MANIFEST, name, found["manifest"])
    if found["tags"] is not None:
        return Match(Endpoint.TAGS, name)
    return Match(Endpoint.REFERRERS, name, found["referrers"])


def blob_path(name: str, digest: Digest) -> str:
    return f"/v2/{name}/blobs/{digest}"


def manifest_path(name: str, reference: Digest | str) -> str:
    return f"/v2/{name}/manifests/{reference}"


def uploads_path(name: str) -> str:
    return f"/v2/{name}/blobs/uploads/"


def upload_path(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def tags_path(name: str) -> str:
    return f"/v2/{name}/tags/list"


def referrers_path(name: str, digest: Digest) -> str:
    return f"/v2/{name}/referrers/{digest}"


def catalog_path() -> str:
    return "/v2/_catalog"


def next_link(path: str, last: str, n: int | None, extra: str = "") -> str:
    """The ``Link`` header for the next page of a list (RFC 5988, ``rel="next"``)."""
    query = f"last={quote(last, safe='')}"
    if n is not None:
        query += f"&n={n}"
    return f'<{path}?{query}{extra}>; rel="next"'
