"""registry_blobs: a 256 MiB blob up to and down from a registry over its HTTP API, dockyard's
registry server against Debian's docker-registry (CNCF distribution 2.8).

Untimed, once (prepare): two files of SIZE random bytes in the row's work directory, one per
kind of upload, so neither upload of an iteration finds its blob already stored.
Untimed setup, each iteration: the engine's registry starts on 127.0.0.1 over empty storage
in the row's work directory (bench/registries.py):
    dockyard         python -m dockyard.registry serve --addr 127.0.0.1:0 --root DIR
    docker-registry  docker-registry serve CONFIG.yml (filesystem storage, a free port)
Timed, in-process, one sample per part and iteration (a `sync` before each, untimed): urllib
sends the small requests, timed with perf_counter; curl moves the bytes, timed by its own
time_total (its start-up, ~4 ms, is left out), so the client costs both servers the same:
    upload          POST /v2/<repo>/blobs/uploads/, then PUT <location>?digest=<d> with the
                    whole file (a monolithic upload)
    upload_chunked  POST, one PATCH with the file as a chunked stream (as docker push sends a
                    layer), then PUT <location>?digest=<d> with no body
    download        GET /v2/<repo>/blobs/<d> of the first blob, into /dev/null
Untimed teardown: the registry is stopped by its PID and its storage deleted.

The figures are times per transfer; MB/s = SIZE / time, printed per engine when the row ends.
Issue 8's goal: at least docker-registry's throughput, that is ratios of 1.00x or more.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import registries
from bench.rows import Context, Parts, RowFailed, Timed

SIZE = 256 << 20
REPOSITORY = "dockyard-bench/blobs"
TRANSFER_TIMEOUT_S = 300.0
CHUNK = 1 << 20


class RegistryBlobs:
    name = "registry_blobs"
    summary = "256 MiB blob: monolithic and chunked upload, download (registry HTTP API)"
    default_runs = 5
    engines = ("dockyard", "docker-registry")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._work = ctx.work / self.name
        self._blobs: list[tuple[Path, str]] = []  # (file, digest) per kind of upload
        self._registry: registries.Registry | None = None
        self._samples: dict[str, dict[str, list[float]]] = {}  # engine, part

    def prepare(self) -> None:
        if shutil.which("curl") is None:
            raise RowFailed("curl is missing (apt-get install curl)")
        self._work.mkdir(parents=True, exist_ok=True)
        self._blobs = [random_file(self._work / f"blob-{n}") for n in (1, 2)]

    def check(self, engine: str) -> None:
        self._stop(self._start(engine))  # fails here, once, if the registry cannot start

    def setup(self, engine: str, i: int) -> Timed:
        registry = self._registry = self._start(engine)
        url = f"http://{registry.address}"
        return Parts(lambda: self._transfers(engine, url))

    def teardown(self, engine: str, i: int) -> None:
        if self._registry is not None:
            self._stop(self._registry)
            self._registry = None

    def finish(self) -> None:
        try:
            if self._registry is not None:
                self._stop(self._registry)
                self._registry = None
        finally:
            shutil.rmtree(self._work, ignore_errors=True)
        for engine, parts in self._samples.items():
            rates = ", ".join(f"{part} {SIZE / 1e6 / statistics.median(s):.0f}"
                              for part, s in parts.items())
            print(f"  {engine} MB/s (median): {rates}", flush=True)

    def _start(self, engine: str) -> registries.Registry:
        root = self._work / f"{engine}-registry"
        shutil.rmtree(root, ignore_errors=True)
        if engine == "dockyard":
            return registries.start_dockyard(self._ctx, root)
        return registries.start(root)

    def _stop(self, registry: registries.Registry) -> None:
        registries.stop(registry)
        shutil.rmtree(registry.root, ignore_errors=True)

    def _transfers(self, engine: str, url: str) -> dict[str, list[float]]:
        (first, digest), (second, other) = self._blobs
        got = {
            "upload": [synced(lambda: upload(url, first, digest))],
            "upload_chunked": [synced(lambda: upload_chunked(url, second, other))],
            "download": [synced(lambda: download(url, digest))],
        }
        for part, samples in got.items():
            self._samples.setdefault(engine, {}).setdefault(part, []).extend(samples)
        return got


def random_file(path: Path) -> tuple[Path, str]:
    """SIZE random bytes written to `path`, and their digest ("sha256:<hex>")."""
    hasher = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(SIZE // CHUNK):
            chunk = os.urandom(CHUNK)
            hasher.update(chunk)
            file.write(chunk)
    return path, f"sha256:{hasher.hexdigest()}"


def synced(transfer: Callable[[], float]) -> float:
    """`transfer()`, the seconds it took, after a sync so no earlier writeback lands in them."""
    os.sync()
    return transfer()


def session(url: str) -> tuple[str, float]:
    """A new upload session's location (absolute), and the seconds the POST took."""
    request = urllib.request.Request(f"{url}/v2/{REPOSITORY}/blobs/uploads/", data=b"",
                                     method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=TRANSFER_TIMEOUT_S) as response:
            status, location = response.status, response.headers.get("Location", "")
    except OSError as exc:
        raise RowFailed(f"POST {url}/v2/{REPOSITORY}/blobs/uploads/: {exc}") from exc
    elapsed = time.perf_counter() - started
    if status != 202 or not location:
        raise RowFailed(f"POST {url}/v2/{REPOSITORY}/blobs/uploads/ answered {status}")
    return absolute(url, location), elapsed


def absolute(url: str, location: str) -> str:
    return location if location.startswith("http") else url + location


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


@dataclass(frozen=True, slots=True)
class Answer:
    seconds: float  # curl's time_total: from its first connect to the answer's last byte
    size: int  # bytes of the body downloaded
    location: str  # the Location header, or ""


def curl(*args: str, status: int) -> Answer:
    """curl with `args` (the URL last), the body into /dev/null; RowFailed unless the answer
    has `status`."""
    out = "%{http_code} %{time_total} %{size_download} %header{location}"
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", out, *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=TRANSFER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RowFailed(f"curl {args[-1]}: {exc}") from exc
    code, seconds, size, location = [*proc.stdout.split(maxsplit=3), "", "", "", ""][:4]
    if proc.returncode != 0 or code != str(status):
        why = proc.stderr.strip() or f"exit {proc.returncode}"
        raise RowFailed(f"curl {' '.join(args[:-1])} {args[-1]} answered {code or '-'}, "
                        f"not {status}: {why}")
    return Answer(float(seconds), int(size), location)


def upload(url: str, path: Path, digest: str) -> float:
    """POST, then one PUT with the whole blob; the seconds they took."""
    location, post = session(url)
    put = curl("-T", str(path), "-H", "Content-Type: application/octet-stream",
               with_digest(location, digest), status=201)
    return post + put.seconds


def upload_chunked(url: str, path: Path, digest: str) -> float:
    """POST, one PATCH streaming the blob with chunked transfer coding, then PUT with no body
    to the location the PATCH answered with (docker-registry keeps the upload's state in it);
    the seconds they took."""
    location, post = session(url)
    patch = curl("-T", str(path), "-X", "PATCH", "-H", "Transfer-Encoding: chunked",
                 "-H", "Content-Type: application/octet-stream", location, status=202)
    if not patch.location:
        raise RowFailed(f"PATCH of an upload to {url} answered no Location")
    put = curl("-X", "PUT", "-H", "Content-Length: 0",
               with_digest(absolute(url, patch.location), digest), status=201)
    return post + patch.seconds + put.seconds


def download(url: str, digest: str) -> float:
    """GET of the blob; the seconds it took."""
    got = curl(f"{url}/v2/{REPOSITORY}/blobs/{digest}", status=200)
    if got.size != SIZE:
        raise RowFailed(f"GET of {digest} from {url} gave {got.size} bytes, not {SIZE}")
    return got.seconds


def make(ctx: Context) -> RegistryBlobs:
    return RegistryBlobs(ctx)
