"""write_layer's ``skip``: entries it names (a directory with its contents) stay out."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from dockyard.archive.diff import write_layer


def test_skip(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("")
    (tmp_path / "etc" / "kept").write_text("x")
    (tmp_path / "proc" / "deep").mkdir(parents=True)
    out = io.BytesIO()
    write_layer(tmp_path, out, skip=lambda rel: rel in ("etc/hosts", "proc"))
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        assert archive.getnames() == ["etc", "etc/kept"]
