"""What every handler gets: the store, the upload sessions, the options, and the caller."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.registry.guard import Identity
from dockyard.registry.storage import RegistryStore
from dockyard.registry.uploads import Uploads

DEFAULT_MAX_MANIFEST = 4 << 20  # the spec asks registries to accept at least 4 MB


@dataclass(frozen=True, slots=True)
class Options:
    read_only: bool = False
    delete_enabled: bool = False
    max_manifest_size: int = DEFAULT_MAX_MANIFEST


@dataclass(frozen=True, slots=True)
class Context:
    store: RegistryStore
    uploads: Uploads
    options: Options


@dataclass(frozen=True, slots=True)
class Call:
    """One routed request: the repository name ("" for none), the path's last segment (digest,
    reference or upload id) and who is calling."""

    name: str
    arg: str
    identity: Identity
