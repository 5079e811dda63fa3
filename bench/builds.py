"""Builds through the classic builder (the docker CLI 28 with DOCKER_BUILDKIT=0, POST /build),
for the build_* rows: the contexts, the base images they build FROM, the edit made before an
edit build, and the removal of what the builds made.

    bench/contexts/
        nginx-site/        Dockerfile nginx.conf site/index.html       (FROM debian:bookworm-slim)
        hello-multistage/  Dockerfile hello.c motd.txt                (debian, then busybox)

The base images are imported with `docker import` into each daemon under the names the
Dockerfiles use, debian:bookworm-slim (the cached slim tar) and busybox:latest (a busybox-static
rootfs tar); when dockerd already had an image of that name, that image gets its name back at
the end.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import daemons, engine_api
from bench.inputs import busybox_rootfs, debian_slim
from bench.rows import Context, RowFailed

CONTEXTS = Path(__file__).resolve().parent / "contexts"
NAMES = ("nginx-site", "hello-multistage")
OWN = "dockyard-bench/"  # the prefix of every name a row gives an image
DEBIAN_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["bash"]',
)
BUILD_ENV = {"DOCKER_BUILDKIT": "0"}  # CLI 28 without buildx: the classic POST /build
EDITION = re.compile(r'^#define EDITION ".*"$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Base:
    """An image a Dockerfile builds FROM, imported from a rootfs tar."""

    name: str
    tar: Path
    changes: tuple[str, ...]


def bases(ctx: Context, work: Path) -> tuple[Base, ...]:
    """debian:bookworm-slim and busybox:latest; the busybox tar is written into `work`."""
    busybox = busybox_rootfs(work / "busybox-rootfs.tar")
    return (
        Base("debian:bookworm-slim", debian_slim(ctx), DEBIAN_CHANGES),
        Base("busybox:latest", busybox, ('CMD ["sh"]',)),
    )


def copy_context(name: str, target: Path) -> Path:
    """A fresh copy of the context `name` at `target` (edit builds change their copy)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(CONTEXTS / name, target)
    return target


def image_name(context: str) -> str:
    return f"{OWN}{context}:latest"


def build_argv(ctx: Context, context: Path, tag: str, *, no_cache: bool) -> tuple[str, ...]:
    """`docker build --network=host [--no-cache] -t TAG CONTEXT` (run it with BUILD_ENV)."""
    flags = ("--no-cache",) if no_cache else ()
    return (ctx.docker, "build", "--network=host", *flags, "-t", tag, str(context))


def edit(context: Path, name: str) -> str:
    """Change the file a late COPY of context `name` reads (site/index.html of nginx-site,
    EDITION in hello.c of hello-multistage) to a new edition; returns the edition."""
    edition = uuid.uuid4().hex[:12]
    if name == "nginx-site":
        page = context / "site" / "index.html"
        text = page.read_text()
        start = text.index("<p>")
        page.write_text(f"{text[:start]}<p>Edition {edition}.</p>\n</body>\n</html>\n")
    elif name == "hello-multistage":
        source = context / "hello.c"
        text, count = EDITION.subn(f'#define EDITION "{edition}"', source.read_text())
        if count != 1:
            raise RowFailed(f"no '#define EDITION' line to edit in {source}")
        source.write_text(text)
    else:
        raise RowFailed(f"no edit defined for the context {name}")
    return edition


def build(ctx: Context, endpoint: daemons.Endpoint, context: Path, tag: str) -> None:
    """One untimed build (with the cache), e.g. to fill the cache before cached builds."""
    argv = build_argv(ctx, context, tag, no_cache=False)
    daemons.docker(ctx, endpoint, *argv[1:], env=BUILD_ENV)


@contextmanager
def imported(
    ctx: Context, endpoint: daemons.Endpoint, wanted: Sequence[Base]
) -> Iterator[frozenset[str]]:
    """Import each base into the daemon under its name and yield the IDs they got. At exit,
    every image built on them goes (see `remove_built`), then the bases' names; an image that
    held one of the names before is given it back."""
    conn = engine_api.UnixConnection(endpoint.socket)
    done: list[tuple[Base, str | None]] = []  # the base, and the image its name had before
    ids: set[str] = set()
    try:
        for base in wanted:
            before = engine_api.image_id(conn, base.name)
            if before is not None:
                print(f"  {endpoint.engine}: {base.name} was {before[:19]}, which gets the name "
                      "back when the row ends", flush=True)  # fmt: skip
            changes = [arg for change in base.changes for arg in ("--change", change)]
            done.append((base, before))
            daemons.docker(ctx, endpoint, "import", *changes, str(base.tar), base.name)
            image = engine_api.image_id(conn, base.name)
            if image is None:
                raise RowFailed(f"`docker import` made no image {base.name} in {endpoint.engine}")
            ids.add(image)
        yield frozenset(ids)
    finally:
        try:
            _remove_imported(conn, frozenset(ids), done)
        finally:
            conn.close()


def _remove_imported(
    conn: engine_api.UnixConnection, ids: frozenset[str], done: Sequence[tuple[Base, str | None]]
) -> None:
    """Every removal is tried; one RowFailed names those that failed. A base's name goes even
    when a container (someone else's, who ran `busybox` meanwhile) uses the image: forced, which
    removes only the name and leaves the image to that container."""
    failed = []
    try:
        remove_built(conn, ids)
    except RowFailed as exc:
        failed.append(str(exc))
    for base, before in reversed(done):
        try:
            engine_api.remove_image(conn, base.name, force=True)
            if before is not None:
                engine_api.tag_image(conn, before, base.name)
        except RowFailed as exc:
            failed.append(str(exc))
    if failed:
        raise RowFailed("; ".join(failed))


def remove_built(conn: engine_api.UnixConnection, bases: frozenset[str]) -> None:
    """Remove the images built on `bases` from the daemon, as `removals` lists them; one
    RowFailed names those that could not go, after trying them all. dockyardd lists no parents,
    so there this removes nothing; its build cache goes with its data root."""
    failed = []
    for reference in removals(engine_api.list_images(conn), bases):
        try:
            engine_api.remove_image(conn, reference)  # 404 (False) when pruned with a child
        except RowFailed as exc:
            failed.append(str(exc))
    if failed:
        raise RowFailed("; ".join(failed))


def removals(images: Sequence[Mapping[str, object]], bases: frozenset[str]) -> list[str]:
    """What to DELETE, in order, to remove the images whose parent chain (ParentId, in
    `GET /images/json?all=1`) reaches one of `bases`: dockerd's intermediate images of a classic
    build and the images the rows tagged. For each image, children before parents: its names
    under dockyard-bench/, then its ID. An image with any other name stays, with its parents."""
    parent = {str(i["Id"]): str(i.get("ParentId") or "") for i in images}
    names = {str(i["Id"]): [str(t) for t in _list(i.get("RepoTags")) if t != "<none>:<none>"]
             for i in images}  # fmt: skip
    chains = {image: chain for image in parent if (chain := _chain(image, parent, bases))}
    kept = {i for image, chain in chains.items() for i in chain
            if any(not n.startswith(OWN) for n in names[image])}  # fmt: skip
    order = sorted(set(chains) - kept, key=lambda i: (-len(chains[i]), i))
    return [reference for image in order for reference in (*names[image], image)]


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _chain(image: str, parent: dict[str, str], bases: frozenset[str]) -> list[str]:
    """`image` and its parents below the first of `bases` it reaches; [] when it reaches none
    (or is one of them)."""
    chain = []
    while image and image not in bases:
        chain.append(image)
        image = parent.get(image, "")
    return chain if image else []
