"""Golden manifests, indexes and configs as registries, Docker and buildkit write them.

Each is read, handed back byte for byte (digests are over bytes), and its fields checked; its
canonical re-encoding reads back to an equal value.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dockyard.oci import mediatypes as mt
from dockyard.oci.config import ContainerConfig, Healthcheck, History, ImageConfig
from dockyard.oci.descriptor import Descriptor, Platform, PlatformMatcher
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index

HERE = Path(__file__).parent


def d(text: str) -> Digest:
    return Digest("sha256", hashlib.sha256(text.encode()).hexdigest())


def load(name: str) -> bytes:
    return (HERE / name).read_bytes()


def test_docker_manifest() -> None:
    data = load("docker-manifest.json")
    manifest = Manifest.from_json(data, mt.DOCKER_MANIFEST)
    assert manifest == Manifest(
        config=Descriptor(mt.DOCKER_CONFIG, d("config"), 1470),
        layers=(
            Descriptor(mt.DOCKER_LAYER_GZIP, d("layer0"), 2818413),
            Descriptor(mt.DOCKER_FOREIGN_LAYER_GZIP, d("layer1"), 1234,
                       urls=(f"https://mcr.microsoft.com/v2/windows/blobs/{d('layer1')}",)),
        ),
        media_type=mt.DOCKER_MANIFEST,
    )
    assert (manifest.to_json(), manifest.digest()) == (data, Digest.of(data))
    assert manifest.canonical_json().startswith(
        b'{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
        b'"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1470,'
    )
    assert Manifest.from_json(manifest.canonical_json()) == manifest


def test_docker_manifest_list_selects_by_platform() -> None:
    data = load("docker-manifest-list.json")
    index = Index.from_json(data)
    assert (index.media_type, len(index.manifests), index.to_json()) == (
        mt.DOCKER_MANIFEST_LIST, 5, data,
    )
    windows = index.manifests[4].platform
    assert windows == Platform("amd64", "windows", os_version="10.0.17763.5820")

    def pick(platform: Platform) -> Digest | None:
        chosen = index.select(PlatformMatcher.only(platform))
        return chosen.digest if chosen else None

    assert pick(Platform("amd64", "linux")) == d("m-amd64")
    assert pick(Platform("arm64", "linux")) == d("m-arm64")
    assert pick(Platform("arm", "linux", variant="v7")) == d("m-armv7")
    assert pick(Platform("arm", "linux", variant="v6")) == d("m-armv6")
    assert pick(Platform("arm", "linux", variant="v5")) is None
    assert Index.from_json(index.canonical_json()) == index


def test_oci_index_with_an_attestation() -> None:
    data = load("oci-index.json")
    index = parse_manifest_or_index(data)
    assert isinstance(index, Index)
    assert index.annotations == {"org.opencontainers.image.created": "2024-05-01T10:00:00Z"}
    attestation = index.manifests[2]
    assert attestation.annotations["vnd.docker.reference.type"] == "attestation-manifest"
    assert index.select(PlatformMatcher.only(Platform("arm64", "linux"))) == index.manifests[1]
    assert (index.to_json(), index.digest()) == (data, Digest.of(data))
    assert Index.from_json(index.canonical_json()) == index


def test_oci_manifest_keeps_unknown_fields() -> None:
    data = load("oci-manifest.json")
    manifest = Manifest.from_json(data)
    assert manifest.extra == {"x-vendor-extension": {"kept": [1, 2, 3]}}
    assert [mt.layer_compression(layer.media_type) for layer in manifest.layers] == [
        "zstd", "gzip",
    ]
    assert manifest.canonical_json().endswith(
        b'"annotations":{"org.opencontainers.image.base.name":"docker.io/library/alpine:3.19"},'
        b'"x-vendor-extension":{"kept":[1,2,3]}}'
    )
    assert Manifest.from_json(manifest.canonical_json()) == manifest


def test_oci_artifact_manifest() -> None:
    data = load("oci-artifact.json")
    manifest = parse_manifest_or_index(data, mt.OCI_MANIFEST)
    assert isinstance(manifest, Manifest)
    assert (manifest.media_type, manifest.artifact_type) == (
        mt.OCI_MANIFEST, "application/vnd.example.sbom.v1",
    )
    assert manifest.config.data == b"{}"
    assert manifest.subject == Descriptor(mt.OCI_MANIFEST, d("oci-amd64"), 1017)
    assert manifest.descriptor().artifact_type == "application/vnd.example.sbom.v1"
    assert Manifest.from_json(manifest.canonical_json()) == manifest


def test_docker_config_keeps_its_bytes_and_its_docker_fields() -> None:
    data = load("docker-config.json")
    config = ImageConfig.from_json(data)
    assert (config.to_json(), config.image_id()) == (data, Digest.of(data))
    assert config.platform == Platform("amd64", "linux")
    assert config.diff_ids == (d("diff0"), d("diff1"))
    assert sorted(config.extra) == ["container", "container_config", "docker_version"]
    assert config.config is not None
    assert config.config.cmd == ("nginx", "-g", "daemon off;")
    assert config.config.labels == {
        "maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>",
    }
    assert config.config.extra == {
        "Hostname": "", "Domainname": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Image": str(d("parent")),
    }
    assert [h.empty_layer for h in config.history] == [False, True, True, False]
    assert config.history[3].comment == "buildkit.dockerfile.v0"
    # Top-level keys sorted and HTML-safe escapes, as Docker marshals: only the order of the
    # known fields in "config" differs from Docker's, so everything after it is identical.
    canonical = config.canonical_json()
    assert ImageConfig.from_json(canonical) == config
    tail = b',"container":'
    assert canonical[canonical.index(tail):] == data[data.index(tail):]


def test_buildkit_config() -> None:
    data = load("oci-config.json")
    config = ImageConfig.from_json(data)
    assert config.platform == Platform("arm64", "linux", variant="v8")
    assert config.config == ContainerConfig(
        user="app",
        exposed_ports=("53/udp", "8080/tcp"),
        env=("A=1", "B=two words"),
        entrypoint=("/app",),
        cmd=("--serve",),
        volumes=("/data",),
        working_dir="/srv",
        labels={"org.opencontainers.image.source": "https://example.com/app"},
        stop_signal="SIGTERM",
        args_escaped=True,
        healthcheck=Healthcheck(
            test=("CMD-SHELL", "curl -f http://localhost/ || exit 1"),
            interval=30_000_000_000, timeout=5_000_000_000, start_period=1_000_000_000, retries=3,
        ),
        on_build=("RUN echo child",),
        shell=("/bin/bash", "-c"),
    )
    assert config.history[1] == History(
        created="2024-05-01T10:00:00Z", created_by='ENTRYPOINT ["/app"]',
        comment="buildkit.dockerfile.v0", empty_layer=True,
    )
    assert config.extra == {
        "moby.buildkit.buildinfo.v1": "eyJmcm9udGVuZCI6ImRvY2tlcmZpbGUudjAifQ==",
    }
    assert config.to_json() == data
    assert ImageConfig.from_json(config.canonical_json()) == config
