"""Image and layer identities (OCI image spec config.md, "Layer DiffID" and "Layer ChainID").

A diffID names one layer's uncompressed tar; a chainID names a layer stacked on all the layers
below it, so equal chainIDs mean equal filesystems and snapshots are keyed by them:

    ChainID(L0)      = DiffID(L0)
    ChainID(L0..Ln)  = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))

An image's ID is the digest of its config's bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """The chainID of every prefix of ``diff_ids``: element i names layers 0..i."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.of(f"{out[-1]} {diff_id}".encode("ascii")))
    return out


def chain_id(diff_ids: Sequence[Digest]) -> Digest:
    """The chainID of the whole stack ``diff_ids`` (bottom layer first)."""
    if not diff_ids:
        raise InvalidArgument("chain id of no layers: want at least one diff id")
    return chain_ids(diff_ids)[-1]


def image_id(config: bytes) -> Digest:
    """An image's ID: the digest of its config blob, byte for byte."""
    return Digest.of(config)
