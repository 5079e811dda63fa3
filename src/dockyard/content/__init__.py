"""Content: blobs by digest, resumable ingests, and the leases that keep them from GC."""

from __future__ import annotations

from dockyard.content.ingest import Status
from dockyard.content.leases import Lease, LeaseStore, Resource
from dockyard.content.store import ContentStore, Info
from dockyard.content.tee import TeeReader
from dockyard.content.writer import ContentWriter

__all__ = [
    "ContentStore",
    "ContentWriter",
    "Info",
    "Lease",
    "LeaseStore",
    "Resource",
    "Status",
    "TeeReader",
]
