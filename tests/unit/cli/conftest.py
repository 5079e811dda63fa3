"""The scripted fake daemon of tests/unit/client as a fixture."""

from __future__ import annotations

from ..client.fake_daemon import daemon

__all__ = ["daemon"]
