"""The ``dockyardd`` daemon entry point (the API server arrives in Foundation II)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        from dockyard import __version__

        print(f"dockyardd version {__version__}")
        return 0
    print("dockyardd: the API server is not built yet (see issue 'Foundation II')", file=sys.stderr)
    return 1
