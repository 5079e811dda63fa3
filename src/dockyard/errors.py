"""The one error taxonomy of dockyard.

Every failure that crosses a module boundary is one of these classes. Each class carries the HTTP
status the Engine API answers with and the exit code the CLI ends with, so the mapping lives here
and nowhere else (containerd's errdefs, distribution's errcode). Messages are lower-case and name
the object and, where there is one, the path or line.

Raise these; never return False or an error code. Wrap a foreign exception at the boundary where it
is caught with ``raise SomeError(...) from exc``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the CLI imports this module: keep typing's import cost off its start
    from typing import ClassVar


class DockyardError(Exception):
    """Base of the taxonomy. Not raised directly."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DockyardError):
    """The caller sent something malformed: a bad reference, a bad flag, a bad tar entry."""

    http_status = 400
    exit_code = 125


class NotFound(DockyardError):
    """The named object does not exist."""

    http_status = 404
    exit_code = 1


class Conflict(DockyardError):
    """The object exists in a state that forbids the request (in use, already exists)."""

    http_status = 409
    exit_code = 1


class AlreadyExists(Conflict):
    """An object with this name or key exists already."""


class NotModified(DockyardError):
    """The request asked for the state the object is already in (start a running container)."""

    http_status = 304
    exit_code = 0


class Unavailable(DockyardError):
    """A needed service or resource is not reachable now (the daemon, a registry)."""

    http_status = 503
    exit_code = 1


class PermissionDenied(DockyardError):
    """The caller may not do this."""

    http_status = 403
    exit_code = 1


class Unauthorized(DockyardError):
    """Credentials are missing or wrong."""

    http_status = 401
    exit_code = 1


class DataCorrupt(DockyardError):
    """Stored or received data fails verification: a digest or size mismatch, a truncated tar."""

    http_status = 500
    exit_code = 1


class Unsupported(DockyardError):
    """A known but unimplemented or unsupported variant: a media type, a compression, a feature."""

    http_status = 400
    exit_code = 1


class Breakout(InvalidArgument):
    """An archive entry or a path tried to leave its root (through `..`, a symlink or a link)."""


class SystemCallError(DockyardError):
    """A syscall failed. The message names the call and the path it acted on."""

    http_status = 500
    exit_code = 1

    def __init__(self, call: str, errno: int, detail: str = "") -> None:
        import os

        text = f"{call}: {os.strerror(errno)}"
        if detail:
            text = f"{call} {detail}: {os.strerror(errno)}"
        super().__init__(text)
        self.call = call
        self.errno = errno


class Internal(DockyardError):
    """A bug: an invariant of dockyard itself does not hold."""

    http_status = 500
    exit_code = 1
