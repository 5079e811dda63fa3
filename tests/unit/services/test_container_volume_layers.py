"""Whether a volume's destination can exist in a container's root, read from the snapshot's
layer directories without mounting them (services.container_volumes.layer_dirs, absent)."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.mount import Mount
from dockyard.services.container_volumes import absent, layer_dirs


def test_layer_dirs_of_an_overlay_are_upper_then_lowers() -> None:
    mount = Mount("overlay", "overlay", ("index=off", "workdir=/s/3/work", "upperdir=/s/3/fs",
                                         "lowerdir=/s/2/fs:/s/1/fs"))
    assert layer_dirs([mount]) == ["/s/3/fs", "/s/2/fs", "/s/1/fs"]


def test_layer_dirs_of_a_bind_is_its_source() -> None:
    assert layer_dirs([Mount("bind", "/s/1/fs", ("rbind", "ro"))]) == ["/s/1/fs"]


def test_layer_dirs_cannot_be_told_for_other_shapes() -> None:
    assert layer_dirs([]) is None
    assert layer_dirs([Mount("bind", "/a"), Mount("bind", "/b")]) is None
    assert layer_dirs([Mount("tmpfs", "tmpfs")]) is None
    assert layer_dirs([Mount("overlay", "overlay", ("upperdir=/u",))]) is None
    assert layer_dirs([Mount("overlay", "overlay", (r"lowerdir=/a\:b:/c",))]) is None


def _layers(tmp_path: Path, count: int) -> list[str]:
    layers = [tmp_path / f"layer{i}" for i in range(count)]
    for layer in layers:
        layer.mkdir()
    return [str(layer) for layer in layers]


def test_a_path_no_layer_holds_is_absent(tmp_path: Path) -> None:
    upper, lower = _layers(tmp_path, 2)
    os.makedirs(f"{lower}/var/lib")
    assert absent([upper, lower], "/data")
    assert absent([upper, lower], "/var/lib/db")
    assert absent([upper, lower], "/var/lib/db/")


def test_a_path_any_layer_holds_is_not_absent(tmp_path: Path) -> None:
    upper, middle, lower = _layers(tmp_path, 3)
    os.makedirs(f"{lower}/var/lib/db")
    os.makedirs(f"{upper}/var")
    assert not absent([upper, middle, lower], "/var/lib/db")
    assert not absent([upper, middle, lower], "/var/lib/../lib/db")


def test_a_symlink_on_the_way_is_not_absent(tmp_path: Path) -> None:
    upper, lower = _layers(tmp_path, 2)
    os.makedirs(f"{upper}/srv")
    os.symlink("/srv", f"{lower}/data")
    os.symlink("/nowhere", f"{upper}/srv/x")
    assert not absent([upper, lower], "/data/db")
    assert not absent([upper, lower], "/srv/x/y")


def test_files_and_whiteouts_hold_nothing_below(tmp_path: Path) -> None:
    upper, lower = _layers(tmp_path, 2)
    Path(f"{upper}/data").write_text("a file, not a directory")
    assert absent([upper, lower], "/data/db")
    assert absent([upper, lower], "/data")  # a file at the destination: nothing to copy
    os.makedirs(f"{lower}/data/db")
    assert not absent([upper, lower], "/data/db")  # the overlay decides: mount and look


def test_the_root_itself_is_never_absent(tmp_path: Path) -> None:
    assert not absent(_layers(tmp_path, 1), "/")
