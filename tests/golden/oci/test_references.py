"""Golden reference vectors (references.json): parsing, normal and familiar forms, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard import errors
from dockyard.oci.digest import Digest
from dockyard.oci.reference import (
    Reference,
    parse_any_reference,
    parse_docker_reference,
    parse_reference,
)

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "references.json").read_text())


@pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: c["input"][:60])
def test_parse(case: dict[str, Any]) -> None:
    digest = Digest.parse(case["digest"]) if case["digest"] else None
    ref = parse_reference(case["input"])
    assert ref == Reference(case["domain"], case["path"], case["tag"], digest)
    assert (str(ref), ref.familiar()) == (case["string"], case["familiar"])


@pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: c["input"][:60])
def test_both_forms_parse_back(case: dict[str, Any]) -> None:
    ref = parse_reference(case["input"])
    assert parse_reference(str(ref)) == ref
    ambiguous = bool(case.get("familiar_is_ambiguous"))
    assert (parse_reference_or_none(ref.familiar()) == ref) is not ambiguous


def parse_reference_or_none(text: str) -> Reference | None:
    try:
        return parse_reference(text)
    except errors.InvalidArgument:
        return None


@pytest.mark.parametrize("case", VECTORS["errors"], ids=lambda c: c["input"][:60])
def test_errors(case: dict[str, Any]) -> None:
    with pytest.raises(errors.DockyardError) as caught:
        parse_reference(case["input"])
    assert (type(caught.value).__name__, str(caught.value)) == (case["error"], case["message"])


@pytest.mark.parametrize("case", VECTORS["parse_any"], ids=lambda c: c["input"][:60])
def test_parse_any(case: dict[str, Any]) -> None:
    assert str(parse_any_reference(case["input"])) == case["string"]


@pytest.mark.parametrize("case", VECTORS["parse_docker"], ids=lambda c: c["input"][:60])
def test_parse_docker(case: dict[str, Any]) -> None:
    assert str(parse_docker_reference(case["input"])) == case["string"]
