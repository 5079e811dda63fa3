"""The ``dockyard-runtime`` OCI runtime entry point (runc-compatible verbs come in Runtime I)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["-v"]):
        from dockyard import __version__

        print(f"dockyard-runtime version {__version__}\nspec: 1.0.2")
        return 0
    print("dockyard-runtime: no verbs yet (see issue 'Runtime I')", file=sys.stderr)
    return 1
