"""A client of the Docker Engine API (the dockyard CLI's only way to reach the daemon).

It imports nothing of the daemon: only ``dockyard.errors`` and the standard library.
"""

from __future__ import annotations

from dockyard.client.engine import (
    MAX_API_VERSION,
    Client,
    DaemonError,
    Ping,
    daemon_error,
    encode_filters,
    encode_query,
    image_path,
)
from dockyard.client.transport import DEFAULT_HOST, Address, Response

__all__ = [
    "DEFAULT_HOST",
    "MAX_API_VERSION",
    "Address",
    "Client",
    "DaemonError",
    "Ping",
    "Response",
    "daemon_error",
    "encode_filters",
    "encode_query",
    "image_path",
]
