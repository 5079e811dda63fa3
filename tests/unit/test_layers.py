"""The import layers of docs/architecture.md: a module imports only from its own or lower layers."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "dockyard"

LAYERS: dict[str, int] = {
    "errors": 0, "oci": 0, "events": 0, "launcher": 0,
    "sys": 1, "mount": 1, "content": 1, "replace": 1,
    "snapshots": 2, "archive": 2, "runtime": 2, "network": 2, "volumes": 2,
    "images": 3, "registry": 3, "gc": 3, "store": 3, "containers": 3,
    "build": 4,
    "services": 5,
    "api": 6, "daemon": 6,
}
CLIENT_SIDE = {"client", "cli"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "dockyard" and len(parts) > 1:
                found.add(parts[1])
    return found


def _owner(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py")


def test_every_top_level_module_has_a_layer() -> None:
    names = {_owner(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert names - set(LAYERS) - CLIENT_SIDE == set()


def test_imports_respect_layers() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        owner = _owner(path)
        if owner == "__init__":
            continue
        for target in _imports(path):
            if owner in CLIENT_SIDE:
                if target not in CLIENT_SIDE | {"errors", "oci"} and target != owner:
                    bad.append(f"{path.relative_to(SRC)} imports dockyard.{target}")
            elif target in CLIENT_SIDE or LAYERS.get(target, 99) > LAYERS[owner]:
                bad.append(f"{path.relative_to(SRC)} imports dockyard.{target}")
    assert bad == []
