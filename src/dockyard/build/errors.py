"""Errors of the Dockerfile front end, each an `InvalidArgument` that names its file and line.

A parse error reads ``Dockerfile:3: unknown instruction: FORM (did you mean FROM?)``, as
buildkit's parser errors carry their line ranges (frontend/dockerfile/parser/errors.go).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed or expanded, located at ``filename:line``."""

    def __init__(self, filename: str, line: int, message: str, end_line: int | None = None) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename = filename
        self.line = line
        self.end_line = line if end_line is None else end_line
        self.reason = message


class ExpansionError(InvalidArgument):
    """A word that the shell lexer cannot expand: bad syntax, or ``${V?msg}`` with V unset.

    It knows no file or line; the instruction-level expander wraps it in a `DockerfileError`.
    """
