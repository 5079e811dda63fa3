"""dockerd's progress messages, byte for byte as in pull_layers.txt and push.txt."""

from __future__ import annotations

import json

from dockyard.services import image_progress as m


def encoded(message: object) -> str:
    return json.dumps(message, separators=(",", ":")).replace(">", "\\u003e")


def test_messages_as_dockerd_sends_them() -> None:
    assert encoded(m.layer("861808351cd1", "Downloading", 36445, 3001127)) == (
        '{"status":"Downloading","progressDetail":{"current":36445,"total":3001127},'
        '"progress":"[\\u003e                                                  ]  '
        '36.45kB/3.001MB","id":"861808351cd1"}')
    assert encoded(m.layer("2881e4ebdc27", "Pushing", 2048, 25)) == (
        '{"status":"Pushing","progressDetail":{"current":2048,"total":25},"progress":'
        '"[==================================================\\u003e]  2.048kB",'
        '"id":"2881e4ebdc27"}')
    assert encoded(m.layer("9d6de127ba38", "Already exists")) == (
        '{"status":"Already exists","progressDetail":{},"id":"9d6de127ba38"}')
    assert encoded(m.status("Pulling from trace/big", "1")) == \
        '{"status":"Pulling from trace/big","id":"1"}'
    assert encoded(m.aux({"Tag": "v1", "Digest": "sha256:x", "Size": 942})) == \
        '{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:x","Size":942}}'
