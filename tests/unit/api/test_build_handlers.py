"""``POST /build``'s query and headers, read as dockerd reads them."""

from __future__ import annotations

import base64
import json

import pytest

from dockyard.api.handlers.build import parse_request, registry_config
from dockyard.api.http import Request
from dockyard.errors import InvalidArgument, Unsupported
from dockyard.registry.auth import Credentials


def _request(query: dict[str, list[str]], headers: dict[str, str] | None = None) -> Request:
    return Request("POST", "/build", query=query, headers=headers or {})


def test_cli28_query() -> None:
    request = parse_request(_request({
        "buildargs": ['{"MSG":"hello","NULL":null}'], "dockerfile": ["Dockerfile.custom"],
        "labels": ['{"a":"b"}'], "networkmode": ["host"], "nocache": ["1"],
        "platform": ["linux/amd64"], "t": ["tracebuild:fail", "other"], "version": ["1"],
        "q": ["1"], "target": ["t"], "cachefrom": ['["x:1"]'], "rm": ["0"]}))
    options = request.options
    assert (request.tags, request.quiet) == (("tracebuild:fail", "other"), True)
    assert dict(options.build_args) == {"MSG": "hello"}
    assert (options.dockerfile, dict(options.labels), options.network, options.no_cache,
            options.platform, options.target, options.cache_from, options.remove) == (
        "Dockerfile.custom", {"a": "b"}, "host", True, "linux/amd64", "t", ("x:1",), False)


def test_docker_py_and_cli2010_defaults() -> None:
    py = parse_request(_request({"t": ["tracesdk:1"], "q": ["False"], "nocache": ["False"],
                                 "rm": ["True"], "forcerm": ["False"], "pull": ["False"]}))
    assert (py.quiet, py.options.no_cache, py.options.remove, py.options.force_remove,
            py.options.pull, py.options.dockerfile) == (False, False, True, False, False,
                                                       "Dockerfile")
    old = parse_request(_request({"buildargs": ["{}"], "cachefrom": ["[]"], "labels": ["{}"],
                                  "networkmode": ["default"], "target": [""], "t": ["x"],
                                  "ulimits": ["null"], "memory": ["0"]}))
    assert (old.options.network, old.options.target, dict(old.options.build_args)) == (
        "default", "", {})


def test_refused() -> None:
    with pytest.raises(Unsupported, match="BuildKit"):
        parse_request(_request({"version": ["2"]}))
    with pytest.raises(Unsupported, match="remote build contexts"):
        parse_request(_request({"remote": ["https://example.com/x.git"]}))
    with pytest.raises(InvalidArgument, match="invalid buildargs"):
        parse_request(_request({"buildargs": ["{nope"]}))
    with pytest.raises(InvalidArgument, match="network mode"):
        parse_request(_request({"networkmode": ["weird"]}))


def test_registry_config_and_secrets() -> None:
    config = {"https://index.docker.io/v1/": {"username": "u", "password": "p"},
              "127.0.0.1:5000": {"auth": base64.b64encode(b"a:b").decode()}}
    header = base64.urlsafe_b64encode(json.dumps(config).encode()).decode()
    assert registry_config(header) == {
        "docker.io": Credentials("u", "p"), "127.0.0.1:5000": Credentials("a", "b")}
    assert registry_config("e30=") == {}
    secrets = base64.b64encode(json.dumps({"tok": base64.b64encode(b"s").decode()})
                               .encode()).decode()
    request = parse_request(_request({}, {"x-dockyard-build-secrets": secrets}))
    assert dict(request.options.secrets) == {"tok": b"s"}
