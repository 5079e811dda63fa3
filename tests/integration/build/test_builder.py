"""The builder in-process on a real data root (overlay snapshots, the runtime for RUN): the
cache's keys, parallel stages, ADD from a URL, RUN mounts, SOURCE_DATE_EPOCH, cancellation,
garbage collection and prune, and nothing left behind."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.job import BuildOptions
from dockyard.errors import DockyardError
from dockyard.oci.config import ContainerConfig
from dockyard.services.build import BuildRequest, BuildService
from dockyard.services.build_executor import RuntimeExecutor, runtime_command
from dockyard.services.images import ImageService
from dockyard.store import DataRoot
from dockyard.sys import real

pytestmark = pytest.mark.root


def busybox_tar() -> bytes:
    import subprocess

    from dockyard.cli.rootfs import busybox_tar as make

    listing = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    out = io.BytesIO()
    make(Path("/bin/busybox").read_bytes(), listing, out, 0)
    return out.getvalue()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[BuildService]:
    root = DataRoot(tmp_path / "root", real())
    try:
        root.importer.import_rootfs(io.BytesIO(busybox_tar()), "docker.io/library/busybox:latest",
                                    config=ContainerConfig(cmd=("sh",)))
        images = ImageService(root)
        executor = RuntimeExecutor(tmp_path / "exec", real(), runtime_command("dockyard", {}))
        service = BuildService(root, images, real(), executor=executor)
        images.add_gc_roots(service.gc_roots)
        yield service
        assert service.builder.settle(30)
        assert [i.name for i in root.snapshotter.walk() if "build" in i.name] == []
        assert not any(str(tmp_path) in line for line in Path("/proc/self/mounts").read_text()
                       .splitlines())
        assert list((tmp_path / "root" / "build" / "tmp").iterdir()) == []
    finally:
        root.close()


def tar_of(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(raw), 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def build(service: BuildService, files: dict[str, str | bytes], **options: Any) -> tuple[
        str, list[str]]:
    messages: list[dict[str, Any]] = []
    image = service.build(io.BytesIO(tar_of(files)),
                          BuildRequest(BuildOptions(**options)), messages.append)
    text = "".join(m.get("stream", "") for m in messages)
    return str(image), text.splitlines()


def cached(lines: list[str]) -> list[str]:
    """The steps that came from the cache."""
    out = []
    for index, line in enumerate(lines):
        if line == " ---> Using cache":
            out.append(next(lines[i] for i in range(index, -1, -1)
                            if lines[i].startswith("Step ")).split(" : ", 1)[1])
    return out


def read(service: BuildService, image: str, path: str) -> bytes:
    from dockyard.images.resolve import resolve_manifest

    record = service.images.get(image).records[0]
    _, manifest = resolve_manifest(service.root.content, record.target)
    for layer in reversed(manifest.layers):
        with tarfile.open(fileobj=io.BytesIO(service.root.content.read_bytes(layer.digest))) \
                as tar:
            try:
                member = tar.extractfile(path.lstrip("/"))
            except KeyError:
                continue
            assert member is not None
            return member.read()
    raise KeyError(path)


def test_the_cache_follows_args_and_sources(service: BuildService) -> None:
    files: dict[str, str | bytes] = {
        "Dockerfile": "FROM busybox\nARG V=1\nCOPY a /a\nENV E=$V\nRUN echo $V > /v\n"
                      "COPY b /b\nRUN cat /a /b > /ab\n",
        "a": "a\n", "b": "b\n"}
    first, _ = build(service, files)
    again, lines = build(service, files)
    assert again == first
    assert cached(lines) == ["ARG V=1", "COPY a /a", "ENV E=$V", "RUN echo $V > /v",
                             "COPY b /b", "RUN cat /a /b > /ab"]
    changed, lines = build(service, files, build_args={"V": "2"})
    assert cached(lines) == ["ARG V=1", "COPY a /a"]
    assert read(service, changed, "/v") == b"2\n"
    edited, lines = build(service, {**files, "b": "B\n"})
    assert cached(lines) == ["ARG V=1", "COPY a /a", "ENV E=$V", "RUN echo $V > /v"]
    assert read(service, edited, "/ab") == b"a\nB\n"
    _, lines = build(service, files, no_cache=True)
    assert cached(lines) == []


def test_independent_stages_run_at_once(service: BuildService) -> None:
    """Each RUN notes the machine's uptime (/proc/uptime is not namespaced) before and after
    its second of sleep: the two seconds overlap, however loaded the machine is."""
    run = "RUN cut -d' ' -f1 /proc/uptime > /{0} && sleep 1 && cut -d' ' -f1 /proc/uptime >> /{0}"
    files: dict[str, str | bytes] = {"Dockerfile": (
        f"FROM busybox AS one\n{run.format('one')}\n"
        f"FROM busybox AS two\n{run.format('two')}\n"
        "FROM busybox AS unused\nRUN exit 1\n"
        "FROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n")}
    image, lines = build(service, files)
    assert [line for line in lines if line.startswith("Step ")] == [
        "Step 1/7 : FROM busybox AS one", f"Step 2/7 : {run.format('one')}",
        "Step 3/7 : FROM busybox AS two", f"Step 4/7 : {run.format('two')}",
        "Step 5/7 : FROM busybox", "Step 6/7 : COPY --from=one /one /one",
        "Step 7/7 : COPY --from=two /two /two"]
    one = [float(t) for t in read(service, image, "/one").split()]
    two = [float(t) for t in read(service, image, "/two").split()]
    assert one[1] - one[0] >= 0.99 and two[1] - two[0] >= 0.99
    assert one[0] < two[1] and two[0] < one[1]  # the sleeps overlapped


def test_a_failing_stage_stops_the_others(service: BuildService) -> None:
    files: dict[str, str | bytes] = {"Dockerfile": (
        "FROM busybox AS slow\nRUN sleep 20\nFROM busybox AS bad\nRUN exit 4\n"
        "FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n")}
    started = time.monotonic()
    with pytest.raises(DockyardError, match="returned a non-zero code: 4") as caught:
        build(service, files)
    assert getattr(caught.value, "code", 0) == 4
    assert time.monotonic() - started < 15


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"remote data\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_add_from_a_url(service: BuildService, web: str) -> None:
    digest = "sha256:" + hashlib.sha256(b"remote data\n").hexdigest()
    image, _ = build(service, {"Dockerfile": (
        f"FROM busybox\nADD {web}/files/data.txt /d/\n"
        f"ADD --checksum={digest} --chown=7:8 {web}/x /x.txt\n"
        "RUN stat -c '%a %u:%g %Y' /d/data.txt /x.txt > /stat\n")})
    assert read(service, image, "/d/data.txt") == b"remote data\n"
    assert read(service, image, "/stat") == b"600 0:0 1445412480\n600 7:8 1445412480\n"
    with pytest.raises(DockyardError, match="digest mismatch"):
        build(service, {"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{'0' * 64} "
                                      f"{web}/y /y\n"})
    with pytest.raises(DockyardError, match="Dockerfile:2: COPY failed: source can't be a URL"):
        build(service, {"Dockerfile": f"FROM busybox\nCOPY {web}/y /y\n"})


def test_run_mounts_and_secrets(service: BuildService) -> None:
    files: dict[str, str | bytes] = {
        "Dockerfile": (
            "FROM busybox\n"
            "RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log "
            "> /count\n"
            "RUN --mount=type=bind,source=ctx,target=/ctx cat /ctx/f > /from-ctx\n"
            "RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs\n"
            "RUN --mount=type=secret,id=tok,target=/run/secrets/tok cat /run/secrets/tok > /s\n"),
        "ctx/f": "bound\n"}
    image, _ = build(service, files, secrets={"tok": b"hush"})
    assert read(service, image, "/count") == b"1\n"
    assert read(service, image, "/from-ctx") == b"bound\n"
    assert read(service, image, "/tmpfs") == b"t\n"
    assert read(service, image, "/s") == b"hush"
    with pytest.raises(KeyError):
        read(service, image, "/run/secrets/tok")
    again, _ = build(service, files, secrets={"tok": b"hush"}, no_cache=True)
    assert read(service, again, "/count") == b"2\n"  # the cache directory persisted
    with pytest.raises(DockyardError, match="classic build API"):
        build(service, {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=x true\n"})


def test_reproducible_with_source_date_epoch(service: BuildService) -> None:
    files: dict[str, str | bytes] = {
        "Dockerfile": "FROM busybox\nCOPY f /f\nRUN mkdir -p /made/deep && date > /dev/null\n"
                      "WORKDIR /w\nLABEL a=b\n", "f": "f"}
    args = {"SOURCE_DATE_EPOCH": "1600000000"}
    first, _ = build(service, files, build_args=args, no_cache=True)
    second, _ = build(service, files, build_args=args, no_cache=True)
    assert first == second
    config = json.loads(service.root.content.read_bytes(service.images.get(first).id))
    assert {"container", "container_config", "docker_version"} & set(config) == set()
    assert config["created"] == "2020-09-13T12:26:40Z"


def test_cancel_kills_the_running_step(service: BuildService) -> None:
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(DockyardError, match=r"[Cc]ancel"):
            service.build(io.BytesIO(tar_of({"Dockerfile": "FROM busybox\nRUN sleep 60\n"})),
                          BuildRequest(), lambda message: None, cancel)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 20


def test_gc_keeps_the_cache_until_prune(service: BuildService) -> None:
    files: dict[str, str | bytes] = {"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "f"}
    image, _ = build(service, files)
    records, size = service.usage()
    assert (len(records), records[0]["Shared"], size) == (1, True, 0)  # the image has it too
    service.images.delete(image)
    records, size = service.usage()
    assert (records[0]["Shared"], size) == (False, records[0]["Size"])
    assert size > 0
    _, lines = build(service, files)
    assert cached(lines) == ["COPY f /f"]
    service.images.delete(image)
    (entry,) = service.builder.cache.entries()
    blob = entry.layers[-1].digest
    assert service.root.content.exists(blob)  # garbage collection kept it for the cache
    report = service.prune()
    assert (len(report["CachesDeleted"]), report["SpaceReclaimed"]) == (1, size)
    assert service.usage() == ([], 0)
    assert not service.root.content.exists(blob)


def test_buildkit_dockerfile_features(service: BuildService) -> None:
    files: dict[str, str | bytes] = {
        "Dockerfile": (
            "FROM busybox\n"
            "COPY <<EOF /etc/greeting\nhello $NAME\nEOF\n"
            "ARG NAME=world\n"
            "COPY <<-'EOT' /raw\n\tkept $NAME\n\tEOT\n"
            "RUN <<EOF\necho one > /one\necho two > /two\nEOF\n"
            "RUN cat <<EOF > /piped\npiped $NAME\nEOF\n"
            "COPY --chmod=0700 tool.sh /tool.sh\n"
            "COPY --exclude=*.md docs /docs\n"
            "COPY --parents a/b/c.txt /tree/\n"
            "COPY --from=busybox /etc/passwd /from-image\n"),
        "tool.sh": "#!/bin/sh\n", "docs/a.md": "m", "docs/b.txt": "t", "a/b/c.txt": "c"}
    image, _ = build(service, files)
    assert read(service, image, "/etc/greeting") == b"hello \n"
    assert read(service, image, "/raw") == b"kept $NAME\n"
    assert (read(service, image, "/one"), read(service, image, "/two")) == (b"one\n", b"two\n")
    assert read(service, image, "/piped") == b"piped world\n"
    assert read(service, image, "/docs/b.txt") == b"t"
    with pytest.raises(KeyError):
        read(service, image, "/docs/a.md")
    assert read(service, image, "/tree/a/b/c.txt") == b"c"
    assert read(service, image, "/from-image").startswith(b"root:x:0:0:")
    from dockyard.images.resolve import resolve_manifest

    record = service.images.get(image).records[0]
    _, manifest = resolve_manifest(service.root.content, record.target)
    modes = {}
    for layer in manifest.layers:
        with tarfile.open(fileobj=io.BytesIO(service.root.content.read_bytes(layer.digest))) \
                as tar:
            modes.update({m.name: m.mode for m in tar.getmembers()})
    assert oct(modes["tool.sh"]) == "0o700"


def test_run_networks(service: BuildService) -> None:
    files: dict[str, str | bytes] = {"Dockerfile": (
        "FROM busybox\nRUN cat /proc/net/dev | wc -l > /host-lines\n"
        "RUN --network=none cat /proc/net/dev | wc -l > /none-lines\n"
        "RUN cat /etc/resolv.conf > /resolv\n")}
    image, _ = build(service, files)
    assert int(read(service, image, "/none-lines")) == 3  # two header lines and lo
    assert int(read(service, image, "/host-lines")) > 3
    assert read(service, image, "/resolv") == Path("/etc/resolv.conf").read_bytes()
    none, _ = build(service, {"Dockerfile": files["Dockerfile"]}, network="none")
    assert int(read(service, none, "/host-lines")) == 3


def test_cache_from_an_image_without_a_local_cache(service: BuildService) -> None:
    files: dict[str, str | bytes] = {
        "Dockerfile": "FROM busybox\nCOPY f /f\nENV A=1\nRUN echo made > /made\nLABEL l=1\n",
        "f": "f"}
    first, _ = build(service, files)
    service.images.tag(first, "cached:1")
    service.prune(all_entries=True)  # as on another machine that pulled cached:1
    again, lines = build(service, files, cache_from=("cached:1", "not-here:1"))
    assert cached(lines) == ["COPY f /f", "ENV A=1", "RUN echo made > /made", "LABEL l=1"]
    assert again == first
    _, lines = build(service, {**files, "f": "changed"}, cache_from=("cached:1",))
    assert cached(lines) == []
    service.prune(all_entries=True)
    _, lines = build(service, files)
    assert cached(lines) == []  # without --cache-from the image's history is not used


def test_copy_from_is_keyed_on_the_source_image(service: BuildService,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached COPY --from mounts nothing (its key names the source stage's or image's ID);
    a change in what the source stage makes, or an image name that moves, is a miss."""
    files: dict[str, str | bytes] = {
        "Dockerfile": ("FROM busybox AS src\nCOPY f /f\nRUN cat /f /f > /ff\n"
                       "FROM busybox\nCOPY --from=src /ff /g\nCOPY --from=other:1 /o /o\n"),
        "f": "one\n", "o": "o1"}
    first_other, _ = build(service, {"Dockerfile": "FROM busybox\nCOPY o /o\n", "o": "o1"})
    service.images.tag(first_other, "other:1")
    first, _ = build(service, files)
    views: list[str] = []
    layers = service.builder.layers
    real_view = layers.view

    def counted(chain: str) -> Any:
        views.append(chain)
        return real_view(chain)

    monkeypatch.setattr(layers, "view", counted)
    again, lines = build(service, files)
    assert (again, views) == (first, [])
    assert cached(lines) == ["COPY f /f", "RUN cat /f /f > /ff", "COPY --from=src /ff /g",
                             "COPY --from=other:1 /o /o"]
    edited, lines = build(service, {**files, "f": "two\n"})
    assert (cached(lines), len(views)) == ([], 2)  # both COPY --from ran: the parent changed
    assert read(service, edited, "/g") == b"two\ntwo\n"
    second_other, _ = build(service, {"Dockerfile": "FROM busybox\nCOPY o /o\n", "o": "o2"})
    service.images.tag(second_other, "other:1")
    moved, lines = build(service, files)
    assert cached(lines) == ["COPY f /f", "RUN cat /f /f > /ff", "COPY --from=src /ff /g"]
    assert read(service, moved, "/o") == b"o2"
