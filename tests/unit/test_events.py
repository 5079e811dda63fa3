"""The events hub: dockerd's JSON shape, its filters, replay from the ring, live delivery
from other threads, ``until``."""

from __future__ import annotations

import asyncio
import threading

from dockyard.events import Event, Events, matches, strip_tag

ID = "e6ac088e27042839e71160abee8adeaa4473f9059f37c3c98b92392ba5ca7861"


def die(time_ns: int = 1795811325584369577, **attributes: str) -> Event:
    return Event("container", "die", ID,
                 {"exitCode": "0", "image": "busybox", "name": "tev", **attributes}, time_ns)


def test_shape_as_dockerd() -> None:
    # events.txt: the die event of "tev"
    assert die().to_json() == {
        "status": "die", "id": ID, "from": "busybox", "Type": "container", "Action": "die",
        "Actor": {"ID": ID, "Attributes": {"exitCode": "0", "image": "busybox",
                                           "name": "tev"}},
        "scope": "local", "time": 1795811325, "timeNano": 1795811325584369577}
    network = Event("network", "connect", "434c", {"name": "bridge", "type": "bridge"}, 5 * 10**9)
    assert network.to_json() == {
        "Type": "network", "Action": "connect",
        "Actor": {"ID": "434c", "Attributes": {"name": "bridge", "type": "bridge"}},
        "scope": "local", "time": 5, "timeNano": 5 * 10**9}
    tag = Event("image", "tag", "sha256:ab", {"name": "x:1"}, 10**9)
    assert list(tag.to_json())[:4] == ["status", "id", "Type", "Action"]


def test_filters() -> None:
    event = die(**{"com.example": "yes"})
    cases = [
        ({}, True),
        ({"type": ["container"]}, True),
        ({"type": ["image"]}, False),
        ({"event": ["die"]}, True),
        ({"event": ["start", "die"]}, True),
        ({"event": ["di"]}, False),
        ({"container": ["tev"]}, True),
        ({"container": ["e6ac08"]}, True),
        ({"container": ["other"]}, False),
        ({"image": ["busybox"]}, True),
        ({"image": ["busybox:latest"]}, False),
        ({"label": ["com.example"]}, True),
        ({"label": ["com.example=yes"]}, True),
        ({"label": ["com.example=no"]}, False),
        ({"label": ["com.example", "missing"]}, False),
        ({"type": ["container"], "container": ["tev"], "event": ["die"]}, True),
        ({"network": ["bridge"]}, False),
        ({"scope": ["local"]}, True),
    ]
    assert [(f, matches(event, f)) for f, _ in cases] == cases


def test_prefix_actions_and_images() -> None:
    exec_start = Event("container", "exec_start: sh -c true", ID, {"name": "x"})
    health = Event("container", "health_status: healthy", ID, {"name": "x"})
    assert matches(exec_start, {"event": ["exec_start"]})
    assert matches(health, {"event": ["health_status"]})
    assert not matches(exec_start, {"event": ["exec_die"]})
    tagged = Event("container", "start", ID, {"image": "busybox:1.36", "name": "x"})
    assert matches(tagged, {"image": ["busybox"]})
    assert matches(tagged, {"image": ["busybox:1.36"]})
    image = Event("image", "tag", "sha256:abc", {"name": "localhost:5000/a/b:v1"})
    assert matches(image, {"image": ["localhost:5000/a/b"]})
    assert matches(image, {"image": ["sha256:abc"]})
    assert strip_tag("localhost:5000/a") == "localhost:5000/a"
    assert strip_tag("a/b@sha256:00") == "a/b"


def test_replay_then_live_from_a_thread() -> None:
    clock = iter(range(1, 10**6))
    hub = Events(clock=lambda: next(clock) * 10**9, limit=3)

    async def scenario() -> list[tuple[str, int]]:
        for action in ("create", "start", "die", "destroy"):
            hub.log("container", action, ID, {"name": "x"})
        got = []
        stream = hub.subscribe({"event": ["start", "die", "destroy", "kill"]}, since_ns=1)
        got.append(await anext(stream))  # the ring holds the last 3: start, die, destroy
        got.append(await anext(stream))
        got.append(await anext(stream))
        thread = threading.Thread(target=hub.log, args=("container", "kill", ID))
        thread.start()
        thread.join()
        got.append(await asyncio.wait_for(anext(stream), 5))
        assert hub.subscribers == 1
        await stream.aclose()
        assert hub.subscribers == 0
        return [(e.action, e.time_ns // 10**9) for e in got]

    assert asyncio.run(scenario()) == [("start", 2), ("die", 3), ("destroy", 4), ("kill", 5)]


def test_until_ends_the_stream() -> None:
    hub = Events()

    async def scenario() -> list[str]:
        now = hub.clock()
        hub.log("container", "start", ID)
        stream = hub.subscribe({}, since_ns=now - 10**9, until_ns=now + 200_000_000)
        return [e.action async for e in stream]

    assert asyncio.run(scenario()) == ["start"]
    assert hub.past(0, 0, {"event": ["start"]})[0].action == "start"
    assert hub.subscribers == 0
