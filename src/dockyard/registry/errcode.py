"""The error codes of the OCI distribution spec (spec.md, "Error Codes") and their HTTP statuses.

A registry answers a failed request with a status and a JSON body
``{"errors": [{"code": ..., "message": ..., "detail": ...}]}``. :class:`RegistryError` carries one
such error through the server: handlers raise it like any other ``dockyard.errors`` error, and
the application turns it into the response. The status defaults to the one distribution uses for
the code; a few requests need another (416 for a chunk out of order, 413 for an upload over the
limit, 405 in read-only mode), so it can be given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.errors import DockyardError


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One code of the spec's table, with its usual status and its text."""

    name: str
    status: int
    text: str


BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", 404, "blob unknown to registry")
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DIGEST_INVALID = ErrorCode(
    "DIGEST_INVALID", 400, "provided digest did not match uploaded content"
)
MANIFEST_BLOB_UNKNOWN = ErrorCode(
    "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"
)
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", 400, "manifest invalid")
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NAME_INVALID = ErrorCode("NAME_INVALID", 400, "invalid repository name")
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", 404, "repository name not known to registry")
SIZE_INVALID = ErrorCode("SIZE_INVALID", 400, "provided length did not match content length")
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", 401, "authentication required")
DENIED = ErrorCode("DENIED", 403, "requested access to the resource is denied")
UNSUPPORTED = ErrorCode("UNSUPPORTED", 405, "the operation is unsupported")
TOOMANYREQUESTS = ErrorCode("TOOMANYREQUESTS", 429, "too many requests")
# Not in the spec's table: distribution answers a server-side failure with it.
UNKNOWN = ErrorCode("UNKNOWN", 500, "unknown error")


class RegistryError(DockyardError):
    """A failed registry request: one spec error code, a message, optional detail and headers."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        status: int | None = None,
        detail: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or code.text)
        self.code = code
        self.status = code.status if status is None else status
        self.detail = detail
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, object]:
        entry: dict[str, object] = {"code": self.code.name, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}
