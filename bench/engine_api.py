"""A small Engine API client on a unix socket, for untimed set-up and for in-process timings.

It speaks HTTP/1.1 with keep-alive through http.client, on the path prefix the docker CLI 28
negotiates with both daemons (/v1.41), so a row asks the same routes as the CLI would.
`timed_gets` times each request from its first byte sent to the last byte of the body read,
client parsing included (well under a millisecond), connection set-up excluded.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from bench.rows import RowFailed

API = "/v1.41"
TIMEOUT_S = 120.0


class UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection to a daemon's unix socket (kept alive between requests)."""

    def __init__(self, path: Path, timeout: float = TIMEOUT_S) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def call(
    conn: UnixConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """(status, body) of one request; an unreachable daemon is a RowFailed."""
    headers = {"Content-Type": "application/x-tar"} if body is not None else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise RowFailed(f"{method} {path} on {conn.path}: {exc}") from exc


def timed_gets(conn: UnixConnection, path: str, repeat: int) -> list[float]:
    """Seconds of each of `repeat` GETs of `path` on the open connection; each must answer 200
    and keep the connection open (a reconnect would put its set-up into the next sample)."""
    samples = []
    for _ in range(repeat):
        try:
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            samples.append(time.perf_counter() - start)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise RowFailed(f"GET {path} on {conn.path}: {exc}") from exc
        if response.status != 200:
            raise RowFailed(f"GET {path} on {conn.path} answered {response.status}")
        if response.will_close:
            raise RowFailed(f"GET {path} on {conn.path}: the daemon closed the connection")
    return samples


def import_rootfs(conn: UnixConnection, tar: bytes, repo: str, tag: str) -> None:
    """``POST /images/create?fromSrc=-``: the tar as a one-layer image named repo:tag."""
    query = urlencode({"fromSrc": "-", "repo": repo, "tag": tag})
    status, body = call(conn, "POST", f"{API}/images/create?{query}", tar)
    if status != 200:
        raise RowFailed(f"import {repo}:{tag} into {conn.path}: {status} {_message(body)}")
    for line in body.splitlines():  # a JSON stream; errors arrive inside a 200
        if line.strip() and "error" in json.loads(line):
            raise RowFailed(f"import {repo}:{tag} into {conn.path}: {_message(line)}")


def remove_image(conn: UnixConnection, name: str, *, force: bool = False) -> bool:
    """``DELETE /images/{name}``; False when there was no such image. With `force`, a name
    whose image a container uses is still removed (the image stays for the container)."""
    query = "?force=1" if force else ""
    status, body = call(conn, "DELETE", f"{API}/images/{quote(name, safe='/:')}{query}")
    if status == 404:
        return False
    if status != 200:
        raise RowFailed(f"remove {name} from {conn.path}: {status} {_message(body)}")
    return True


def image_id(conn: UnixConnection, name: str) -> str | None:
    """The ID of image `name` (``GET /images/{name}/json``), or None when there is none."""
    status, body = call(conn, "GET", f"{API}/images/{quote(name, safe='/:')}/json")
    if status == 404:
        return None
    if status != 200:
        raise RowFailed(f"inspect {name} on {conn.path}: {status} {_message(body)}")
    return str(json.loads(body)["Id"])


def tag_image(conn: UnixConnection, image: str, name: str) -> None:
    """``POST /images/{image}/tag``: name the image `name` (repo:tag)."""
    repo, _, tag = name.rpartition(":")
    query = urlencode({"repo": repo, "tag": tag})
    status, body = call(conn, "POST", f"{API}/images/{quote(image, safe=':')}/tag?{query}")
    if status not in (200, 201):
        raise RowFailed(f"tag {image} as {name} on {conn.path}: {status} {_message(body)}")


def list_images(conn: UnixConnection) -> list[dict[str, object]]:
    """``GET /images/json?all=1``: every image, intermediate ones (dockerd's) included."""
    status, body = call(conn, "GET", f"{API}/images/json?all=1")
    if status != 200:
        raise RowFailed(f"GET /images/json on {conn.path}: {status} {_message(body)}")
    images: list[dict[str, object]] = json.loads(body)
    return images


def image_count(conn: UnixConnection) -> tuple[int, int]:
    """(images listed, bytes of the answer) of ``GET /images/json``."""
    status, body = call(conn, "GET", f"{API}/images/json")
    if status != 200:
        raise RowFailed(f"GET /images/json on {conn.path}: {status} {_message(body)}")
    return len(json.loads(body)), len(body)


def ping(path: Path) -> bool:
    """Whether a daemon answers ``GET /_ping`` with 200 on the socket."""
    conn = UnixConnection(path, timeout=2.0)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _message(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:200]
    if isinstance(value, dict):
        return str(value.get("message") or value.get("error") or value)[:200]
    return str(value)[:200]
