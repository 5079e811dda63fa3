"""A clock a test sets by hand, for stores that take ``clock: Callable[[], float]``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Clock:
    """Returns ``now`` until the test moves it."""

    now: float

    def __call__(self) -> float:
        return self.now
