"""Small OCI image layouts made in Python, for skopeo and docker to move through the registry."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from dockyard.oci import mediatypes as mt


def _blob(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(text: str, size: int = 0) -> tuple[bytes, bytes]:
    """A gzip layer tar with /hello (and /filler of ``size`` incompressible bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in (("hello", text.encode()),
                              ("filler", hashlib.sha256(text.encode()).digest() * (size // 32))):
            if name == "filler" and not size:
                continue
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue(), gzip.compress(raw.getvalue(), mtime=0)


def image(root: Path, text: str, arch: str = "amd64", size: int = 0) -> dict[str, Any]:
    """Write one image's blobs into the layout; returns its manifest descriptor."""
    tar, compressed = _layer(text, size)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers",
                   "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, **_blob(root, config)},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, **_blob(root, compressed)}],
    }).encode()
    return {"mediaType": mt.OCI_MANIFEST, **_blob(root, manifest),
            "platform": {"architecture": arch, "os": "linux"}}


def layout(root: Path, tags: dict[str, dict[str, Any]]) -> Path:
    """An OCI layout at ``root`` whose index.json names each descriptor under its tag."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    manifests = [{**desc, "annotations": {"org.opencontainers.image.ref.name": tag}}
                 for tag, desc in tags.items()]
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return root


def multi_arch(root: Path, text: str) -> dict[str, Any]:
    """An image index over amd64 and arm64 images, written into the layout's blobs."""
    entries = [image(root, f"{text} {arch}", arch) for arch in ("amd64", "arm64")]
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": entries}).encode()
    return {"mediaType": mt.OCI_INDEX, **_blob(root, index)}
