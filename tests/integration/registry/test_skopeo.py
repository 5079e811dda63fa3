"""skopeo, an independent client, copies OCI layouts to our registry and back, with each kind
of access control."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from . import layout
from .conftest import Registry

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def skopeo(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    authfile = tmp_path / "auth.json"
    if not authfile.exists():
        authfile.write_text('{"auths": {}}')
    command = ["skopeo", "--insecure-policy", args[0], "--authfile", str(authfile), *args[1:]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed: {result.stderr}")
    return result


def index_of(path: Path) -> list[dict[str, Any]]:
    return json.loads((path / "index.json").read_text())["manifests"]  # type: ignore[no-any-return]


def round_trip(tmp_path: Path, registry: Registry, *creds: str) -> None:
    src = layout.layout(tmp_path / "src", {"v1": layout.image(tmp_path / "src", "round trip")})
    ref = f"docker://{registry.address}/skopeo/app:v1"
    skopeo(tmp_path, "copy", "--dest-tls-verify=false", *[f"--dest-creds={c}" for c in creds],
           "oci:" + str(src) + ":v1", ref)
    skopeo(tmp_path, "copy", "--src-tls-verify=false", *[f"--src-creds={c}" for c in creds],
           ref, "oci:" + str(tmp_path / "dst") + ":back")
    sent, back = index_of(src)[0], index_of(tmp_path / "dst")[0]
    assert (back["digest"], back["size"]) == (sent["digest"], sent["size"])
    for blob in (src / "blobs" / "sha256").iterdir():
        assert (tmp_path / "dst" / "blobs" / "sha256" / blob.name).read_bytes() == \
            blob.read_bytes()


def test_copy_to_the_registry_and_back(tmp_path: Path, registry: Registry) -> None:
    round_trip(tmp_path, registry)
    tags = skopeo(tmp_path, "list-tags", "--tls-verify=false",
                  f"docker://{registry.address}/skopeo/app")
    assert json.loads(tags.stdout)["Tags"] == ["v1"]


def test_copy_a_multi_arch_index(tmp_path: Path, registry: Registry) -> None:
    src = tmp_path / "src"
    layout.layout(src, {"multi": layout.multi_arch(src, "multi")})
    ref = f"docker://{registry.address}/skopeo/multi:latest"
    skopeo(tmp_path, "copy", "--all", "--dest-tls-verify=false", f"oci:{src}:multi", ref)
    raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", ref).stdout
    assert json.loads(raw)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert raw.encode() == (src / "blobs" / "sha256" /
                            index_of(src)[0]["digest"].split(":")[1]).read_bytes()
    arm = skopeo(tmp_path, "inspect", "--tls-verify=false", "--override-arch=arm64", ref)
    assert json.loads(arm.stdout)["Architecture"] == "arm64"


def test_copy_over_tls(tmp_path: Path, registry_factory: Any,
                       tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    registry = registry_factory("--tls-cert", str(cert), "--tls-key", str(key), tls=True)
    round_trip(tmp_path, registry)


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_credentials(tmp_path: Path, registry_factory: Any, htpasswd_file: Path,
                     mode: str) -> None:
    registry = registry_factory("--auth", mode, "--htpasswd", str(htpasswd_file))
    round_trip(tmp_path, registry, "alice:wonderland")
    src = f"oci:{tmp_path / 'src'}:v1"
    ref = f"docker://{registry.address}/skopeo/other:v1"
    refused = skopeo(tmp_path, "copy", "--dest-tls-verify=false", src, ref, check=False)
    assert refused.returncode != 0 and ("401" in refused.stderr
                                        or "unauthorized" in refused.stderr.lower())
    wrong = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds=alice:nope",
                   src, ref, check=False)
    assert wrong.returncode != 0 and ("401" in wrong.stderr
                                      or "unauthorized" in wrong.stderr.lower())
    pull = skopeo(tmp_path, "inspect", "--tls-verify=false",
                  f"docker://{registry.address}/skopeo/app:v1", check=False)
    assert pull.returncode != 0


def test_per_repository_scopes(tmp_path: Path, registry_factory: Any,
                               htpasswd_file: Path) -> None:
    registry = registry_factory("--auth", "token", "--htpasswd", str(htpasswd_file),
                                "--access", "alice:*:*", "--access", "bob:bob/*:pull,push",
                                "--access", "anonymous:skopeo/*:pull")
    round_trip(tmp_path, registry, "alice:wonderland")
    anonymous = skopeo(tmp_path, "inspect", "--tls-verify=false",
                       f"docker://{registry.address}/skopeo/app:v1")
    assert json.loads(anonymous.stdout)["Name"] == f"{registry.address}/skopeo/app"
    src = f"oci:{tmp_path / 'src'}:v1"
    skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds=bob:builder", src,
           f"docker://{registry.address}/bob/app:v1")
    denied = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds=bob:builder",
                    src, f"docker://{registry.address}/skopeo/bob:v1", check=False)
    assert denied.returncode != 0
    assert registry.request("GET", "/v2/skopeo/bob/tags/list").status == 401
