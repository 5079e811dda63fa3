"""Records behave like frozen keyword-only dataclasses."""

from __future__ import annotations

import pytest

from dockyard.runtime.record import Record


class Point(Record):
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


class Point3(Point):
    z: int = 0


def test_defaults_equality_hash_repr() -> None:
    assert Point(x=1) == Point(x=1, y=0, tags=())
    assert Point(x=1) != Point(x=2)
    assert hash(Point(x=1, tags=("a",))) == hash(Point(x=1, tags=("a",)))
    assert repr(Point(x=1)) == "Point(x=1, y=0, tags=())"
    assert Point(x=1) != Point3(x=1)


def test_frozen_and_slotted() -> None:
    point = Point(x=1)
    with pytest.raises(AttributeError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.other = 1  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")


def test_missing_and_unknown_fields() -> None:
    with pytest.raises(TypeError, match="missing field 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unknown fields"):
        Point(x=1, w=2)  # type: ignore[call-arg]


def test_inheritance_and_replace() -> None:
    assert Point3(x=1, z=3).replace(y=2) == Point3(x=1, y=2, z=3)
    assert Point3._fields == ("x", "y", "tags", "z")
