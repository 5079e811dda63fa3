"""Descriptors: field order per format, embedded data, strict reading."""

from __future__ import annotations

import dataclasses

import pytest

from dockyard import errors
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor, Platform
from dockyard.oci.digest import Digest

DIGEST = Digest.of(b"blob")


def test_field_order_follows_the_format() -> None:
    descriptor = Descriptor(mt.OCI_LAYER_GZIP, DIGEST, 4, annotations={"b": "2", "a": "1"},
                            platform=Platform("amd64", "linux"))
    assert descriptor.to_json() == (
        b'{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",'
        b'"digest":"' + str(DIGEST).encode() + b'","size":4,"annotations":{"a":"1","b":"2"},'
        b'"platform":{"architecture":"amd64","os":"linux"}}'
    )
    assert descriptor.to_json(docker=True).startswith(
        b'{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":4,"digest":"sha256:'
    )


def test_embedded_data_is_checked() -> None:
    good = Descriptor(mt.OCI_EMPTY, Digest.of(b"{}"), 2, data=b"{}")
    assert b'"data":"e30="' in good.to_json()
    assert Descriptor.from_json(good.to_json()) == good
    wrong_size = dataclasses.replace(good, size=3)
    with pytest.raises(errors.InvalidArgument, match=r"data: holds 2 bytes, size says 3"):
        Descriptor.from_json(wrong_size.to_json())
    wrong_digest = dataclasses.replace(good, digest=DIGEST)
    with pytest.raises(errors.InvalidArgument, match=r"data: does not match digest"):
        Descriptor.from_json(wrong_digest.to_json())
    with pytest.raises(errors.InvalidArgument, match=r"invalid descriptor: data: not base64"):
        Descriptor.from_json(good.to_json().replace(b"e30=", b"e30*"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"digest":"%s","size":1}', "invalid descriptor: mediaType: missing"),
        ('{"mediaType":"a/b","size":1}', "invalid descriptor: digest: missing"),
        ('{"mediaType":"a/b","digest":"%s"}', "invalid descriptor: size: missing"),
        ('{"mediaType":"a/b","digest":"%s","size":-1}',
         "invalid descriptor: size: -1 is less than 0"),
        ('{"mediaType":"a/b","digest":"%s","size":"1"}',
         "invalid descriptor: size: want integer, got string"),
        ('{"mediaType":"a/b","digest":"sha256:xyz","size":1}',
         "invalid descriptor: digest: invalid sha256 digest 'sha256:xyz'"),
        ('{"mediaType":"a/b","digest":"md5:abc","size":1}',
         "invalid descriptor: digest: unsupported digest algorithm 'md5' in 'md5:abc'"),
        ('{"mediaType":"a b","digest":"%s","size":1}',
         "invalid descriptor: mediaType: invalid media type 'a b'"),
        ('{"mediaType":"a/b","digest":"%s","size":1,"platform":{"os":"linux"}}',
         "invalid descriptor: platform.architecture: missing"),
        ('{"mediaType":"a/b","digest":"%s","size":1,"urls":"x"}',
         "invalid descriptor: urls: want array of strings, got string"),
    ],
)
def test_reading_errors_name_the_field(text: str, message: str) -> None:
    data = (text.replace("%s", str(DIGEST))).encode()
    with pytest.raises(errors.InvalidArgument) as caught:
        Descriptor.from_json(data)
    assert str(caught.value) == message


def test_unknown_fields_of_a_descriptor_are_dropped_as_go_drops_them() -> None:
    data = f'{{"mediaType":"a/b","digest":"{DIGEST}","size":1,"x":1}}'.encode()
    assert Descriptor.from_json(data) == Descriptor("a/b", DIGEST, 1)


def test_values_are_frozen_and_hashable() -> None:
    descriptor = Descriptor("a/b", DIGEST, 1, annotations={"k": "v"})
    with pytest.raises(TypeError):
        descriptor.annotations["k"] = "w"  # type: ignore[index]
    assert len({descriptor, Descriptor("a/b", DIGEST, 1, annotations={"k": "v"})}) == 1
    with pytest.raises(errors.InvalidArgument, match="negative size"):
        Descriptor("a/b", DIGEST, -1)
