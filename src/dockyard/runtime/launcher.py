"""The ``dockyard-runtime`` command as a script the interpreter starts with ``-S -I``.

The console script pip writes for ``dockyard.runtime.main:main`` runs the interpreter with
``site`` (every ``.pth`` file of the environment; 2.5 ms in our venv, 25-45 ms where a
``.pth`` imports certifi) and imports ``re`` to tidy ``sys.argv[0]`` (3.7 ms): about a third
of a one-shot ``run``. This module writes a replacement over it::

    #!<venv>/bin/python3.11 -SI
    import sys
    sys.path[:0] = ['<the directory holding the dockyard package>']
    from dockyard.runtime.main import main
    main()

``-S`` skips ``site`` and ``-I`` (isolated) ignores ``PYTHON*`` variables, the user's
site-packages and the current directory, so nothing of the caller's environment changes
which code runs as root. The runtime needs nothing but the standard library and dockyard,
whose directory is written into the script (``src/`` for an editable install). A
reinstall brings pip's script back (slower, same behaviour); run
``python -m dockyard.runtime.launcher [BIN_DIR]`` again (``scripts/setup`` does).
"""

from __future__ import annotations

import os
import sys

NAME = "dockyard-runtime"
MARKER = "# dockyard-runtime launcher"


def script(python: str, path: str) -> str:
    """The launcher's text for interpreter ``python`` and the package directory ``path``."""
    if any(c.isspace() for c in python):
        raise ValueError(f"launcher: interpreter path {python!r} contains white space")
    return (f"#!{python} -SI\n{MARKER}: python -m dockyard.runtime.launcher writes this\n"
            f"import sys\nsys.path[:0] = [{path!r}]\n"
            "from dockyard.runtime.main import main\nmain()\n")


def install(bin_dir: str, python: str = sys.executable) -> str:
    """Write the launcher to ``bin_dir/dockyard-runtime`` (atomically); returns its path."""
    import dockyard

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    target = os.path.join(bin_dir, NAME)
    temp = os.path.join(bin_dir, f".{NAME}.tmp")
    with open(temp, "w", encoding="utf-8") as file:
        file.write(script(python, package_dir))
    os.chmod(temp, 0o755)
    os.rename(temp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    bin_dir = args[0] if args else os.path.dirname(sys.executable)
    print(install(bin_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
