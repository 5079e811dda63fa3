"""The scripted fake daemon as a fixture (defined beside the fake, shared with tests/unit/cli)."""

from __future__ import annotations

from .fake_daemon import daemon

__all__ = ["daemon"]
