"""Immutable slotted value objects, declared like frozen keyword-only dataclasses.

The runtime's one-shot commands must start fast (``dockyard-runtime run`` competes with runc's
~34 ms), and ``dataclasses`` costs about 10 ms to import plus about 0.5 ms per class. So the
runtime's value objects derive from :class:`Record` instead: the fields are the class's
annotations, defaults are class attributes (immutable values only), and instances are frozen,
compare and hash by value and print like dataclasses. Type checkers see a frozen keyword-only
dataclass (PEP 681 ``dataclass_transform``)::

    class Mount(Record):
        destination: str
        options: tuple[str, ...] = ()

    Mount(destination="/proc") == Mount(destination="/proc", options=())
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self, dataclass_transform
else:

    def dataclass_transform(**_options: object) -> object:
        return lambda cls: cls


@dataclass_transform(kw_only_default=True, frozen_default=True)
class RecordType(type):
    """Turns annotations into ``__slots__`` and remembers the fields and their defaults."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]
    ) -> RecordType:
        inherited: tuple[str, ...] = ()
        defaults: dict[str, object] = {}
        for base in reversed(bases):
            inherited += tuple(f for f in getattr(base, "_fields", ()) if f not in inherited)
            defaults.update(getattr(base, "_defaults", {}))
        own = tuple(
            field for field in namespace.get("__annotations__", {})
            if field not in inherited and not field.startswith("_")
        )
        for field in own:
            if field in namespace:
                defaults[field] = namespace.pop(field)
        namespace["__slots__"] = own
        cls = super().__new__(mcs, name, bases, namespace)
        cls._fields = inherited + own  # type: ignore[attr-defined]
        cls._defaults = defaults  # type: ignore[attr-defined]
        return cls


class Record(metaclass=RecordType):
    """Base of the runtime's value objects; see the module docstring."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]]
    _defaults: ClassVar[dict[str, object]]

    def __init__(self, **values: Any) -> None:
        for field in self._fields:
            if field in values:
                value = values.pop(field)
            elif field in self._defaults:
                value = self._defaults[field]
            else:
                raise TypeError(f"{type(self).__name__}() missing field {field!r}")
            object.__setattr__(self, field, value)
        if values:
            raise TypeError(f"{type(self).__name__}() got unknown fields {sorted(values)}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__name__}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, field) for field in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._fields)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        values = {field: getattr(self, field) for field in self._fields}
        values.update(changes)
        return type(self)(**values)
