from __future__ import annotations

import re

from dockyard.containers.names import generate


def test_generated_names() -> None:
    taken: set[str] = set()
    for _ in range(200):
        name = generate(taken.__contains__)
        assert re.fullmatch(r"[a-z]+_[a-z0-9]+", name)
        assert name not in taken
        taken.add(name)


def test_collisions_end() -> None:
    assert re.fullmatch(r"[a-z]+_[0-9a-f]{8}", generate(lambda name: True))
