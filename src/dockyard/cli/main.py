"""The ``dockyard`` command line: a thin client of the Engine API (grows in Foundation II)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["version"] or args[:1] == ["--version"]:
        from dockyard import __version__

        print(f"dockyard version {__version__}")
        return 0
    print("usage: dockyard version", file=sys.stderr)
    return 125
