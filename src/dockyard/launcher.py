"""The ``dockyard`` and ``dockyard-runtime`` commands as scripts the interpreter starts with
``-S -I``.

The console scripts pip writes run the interpreter with ``site`` (every ``.pth`` file of the
environment; 2.5 ms in our venv, 25-45 ms where a ``.pth`` imports certifi) and import ``re``
to tidy ``sys.argv[0]`` (3.7 ms): about a third of a one-shot ``dockyard-runtime run``, and a
good part of a short ``dockyard`` command. This module writes replacements over them::

    #!<venv>/bin/python3.11 -SI
    import sys
    sys.path[:0] = ['<the directory holding the dockyard package>']
    from dockyard.runtime.main import main       (dockyard.cli.main for ``dockyard``)
    main()                                       (sys.exit(main()) for ``dockyard``)

``-S`` skips ``site`` and ``-I`` (isolated) ignores ``PYTHON*`` variables, the user's
site-packages and the current directory, so nothing of the caller's environment changes
which code runs as root. Both commands need nothing but the standard library and dockyard,
whose directory is written into the script (``src/`` for an editable install); the daemon
(which needs the environment's packages) keeps pip's script. A reinstall brings pip's
scripts back (slower, same behaviour); run ``python -m dockyard.launcher [BIN_DIR]`` again
(``scripts/setup`` does).

This module imports nothing of dockyard (layer 0): it only writes text.
"""

from __future__ import annotations

import os
import sys

COMMANDS = {  # name: (module, its call)
    "dockyard-runtime": ("dockyard.runtime.main", "main()"),
    "dockyard": ("dockyard.cli.main", "sys.exit(main())"),
}


def marker(name: str) -> str:
    return f"# {name} launcher"


def script(python: str, path: str, name: str = "dockyard-runtime") -> str:
    """The launcher's text of command ``name`` for interpreter ``python`` and the package
    directory ``path``."""
    if any(c.isspace() for c in python):
        raise ValueError(f"launcher: interpreter path {python!r} contains white space")
    module, call = COMMANDS[name]
    return (f"#!{python} -SI\n{marker(name)}: python -m dockyard.launcher writes this\n"
            f"import sys\nsys.path[:0] = [{path!r}]\n"
            f"from {module} import main\n{call}\n")


def install(bin_dir: str, python: str = sys.executable, name: str = "dockyard-runtime") -> str:
    """Write the launcher of ``name`` to ``bin_dir/<name>`` (atomically); returns its path."""
    import dockyard

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    target = os.path.join(bin_dir, name)
    temp = os.path.join(bin_dir, f".{name}.tmp")
    with open(temp, "w", encoding="utf-8") as file:
        file.write(script(python, package_dir, name))
    os.chmod(temp, 0o755)
    os.rename(temp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    bin_dir = args[0] if args else os.path.dirname(sys.executable)
    for name in COMMANDS:
        print(install(bin_dir, name=name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
