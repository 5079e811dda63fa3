"""Hypothesis: every descriptor, manifest, index and config reads back from its own JSON."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dockyard.oci import mediatypes as mt
from dockyard.oci.codec import JSON
from dockyard.oci.config import ContainerConfig, Healthcheck, History, ImageConfig, RootFS
from dockyard.oci.descriptor import Descriptor, Platform
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Index, Manifest, parse_manifest_or_index

text = st.text(max_size=12)
words = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_/", min_size=1, max_size=12)
strings = st.lists(text, max_size=3).map(tuple)
string_maps = st.dictionaries(words, text, max_size=3)
digests = st.one_of(
    st.binary(min_size=32, max_size=32).map(lambda b: Digest("sha256", b.hex())),
    st.binary(min_size=64, max_size=64).map(lambda b: Digest("sha512", b.hex())),
)
media_types = st.sampled_from(sorted(mt.LAYERS | mt.CONFIGS | {"application/spdx+json"}))
platforms = st.builds(
    Platform,
    architecture=st.sampled_from(["amd64", "arm64", "arm", "s390x"]),
    os=st.sampled_from(["linux", "windows"]),
    os_version=st.sampled_from(["", "10.0.17763.1"]),
    os_features=st.lists(words, max_size=2).map(tuple),
    variant=st.sampled_from(["", "v7", "v8"]),
)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text
json_values: st.SearchStrategy[JSON] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


def extras(known: frozenset[str]) -> st.SearchStrategy[dict[str, JSON]]:
    return st.dictionaries(words.filter(lambda k: k not in known), json_values, max_size=2)


@st.composite
def descriptors(draw: st.DrawFn, docker: bool = False) -> Descriptor:
    data = draw(st.none() | st.binary(max_size=8)) if not docker else None
    digest = Digest.of(data) if data is not None else draw(digests)
    return Descriptor(
        media_type=draw(media_types),
        digest=digest,
        size=len(data) if data is not None else draw(st.integers(0, 2**63 - 1)),
        urls=draw(st.lists(words, max_size=2).map(tuple)),
        annotations={} if docker else draw(string_maps),
        platform=draw(st.none() | platforms),
        artifact_type="" if docker else draw(st.sampled_from(["", "application/x.a"])),
        data=data,
    )


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    docker = draw(st.booleans())
    oci = not docker
    return Manifest(
        config=draw(descriptors(docker)),
        layers=tuple(draw(st.lists(descriptors(docker), max_size=3))),
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        artifact_type=draw(st.sampled_from(["", "application/x.sbom"])) if oci else "",
        subject=draw(st.none() | descriptors()) if oci else None,
        annotations=draw(string_maps) if oci else {},
        extra=draw(extras(frozenset({"schemaVersion", "mediaType", "config", "layers",
                                     "artifactType", "subject", "annotations"}))),
    )


@st.composite
def indexes(draw: st.DrawFn) -> Index:
    docker = draw(st.booleans())
    oci = not docker
    return Index(
        manifests=tuple(draw(st.lists(descriptors(docker), max_size=3))),
        media_type=mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX,
        artifact_type=draw(st.sampled_from(["", "application/x.sbom"])) if oci else "",
        subject=draw(st.none() | descriptors()) if oci else None,
        annotations=draw(string_maps) if oci else {},
        extra=draw(extras(frozenset({"schemaVersion", "mediaType", "manifests", "artifactType",
                                     "subject", "annotations"}))),
    )


durations = st.integers(0, 10**12)
container_configs = st.builds(
    ContainerConfig,
    user=text,
    exposed_ports=st.lists(st.sampled_from(["80/tcp", "53/udp", "443"]), max_size=3).map(tuple),
    env=strings,
    entrypoint=st.none() | strings,
    cmd=st.none() | strings,
    volumes=st.lists(words, max_size=2).map(tuple),
    working_dir=text,
    labels=string_maps,
    stop_signal=st.sampled_from(["", "SIGTERM", "9"]),
    args_escaped=st.booleans(),
    healthcheck=st.none() | st.builds(Healthcheck, strings, durations, durations, durations,
                                      durations, st.integers(0, 10)),
    on_build=strings,
    shell=strings,
    extra=extras(frozenset({"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
                            "WorkingDir", "Labels", "StopSignal", "ArgsEscaped", "Healthcheck",
                            "OnBuild", "Shell"})),
)
times = st.none() | st.sampled_from(["2024-05-01T10:00:00Z", "2023-11-01T20:11:23.812549712Z"])
histories = st.builds(History, times, text, text, text, st.booleans())
image_configs = st.builds(
    ImageConfig,
    architecture=st.sampled_from(["amd64", "arm64", ""]),
    os=st.sampled_from(["linux", "windows"]),
    rootfs=st.builds(RootFS, st.just("layers"), st.lists(digests, max_size=3).map(tuple)),
    config=st.none() | container_configs,
    history=st.lists(histories, max_size=3).map(tuple),
    created=times,
    author=text,
    variant=st.sampled_from(["", "v8"]),
    os_version=st.sampled_from(["", "10.0.17763.1"]),
    os_features=st.lists(words, max_size=2).map(tuple),
    extra=extras(frozenset({"architecture", "os", "variant", "os.version", "os.features",
                            "created", "author", "config", "rootfs", "history"})),
)


@given(descriptors(), st.booleans())
def test_descriptor(descriptor: Descriptor, docker: bool) -> None:
    assert Descriptor.from_json(descriptor.to_json(docker=docker)) == descriptor


@given(manifests())
def test_manifest(manifest: Manifest) -> None:
    data = manifest.to_json()
    again = Manifest.from_json(data, manifest.media_type)
    assert again == manifest
    assert (again.to_json(), again.canonical_json()) == (data, data)
    assert parse_manifest_or_index(data) == manifest


@given(indexes())
def test_index(index: Index) -> None:
    data = index.to_json()
    again = Index.from_json(data)
    assert again == index
    assert (again.to_json(), again.canonical_json()) == (data, data)
    assert parse_manifest_or_index(data) == index


@given(image_configs)
def test_image_config(config: ImageConfig) -> None:
    data = config.to_json()
    again = ImageConfig.from_json(data)
    assert again == config
    assert (again.to_json(), again.canonical_json(), again.image_id()) == (
        data, data, Digest.of(data),
    )
