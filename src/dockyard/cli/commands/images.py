"""``images`` / ``image ls``, ``image inspect``, ``history``, ``tag``, ``rmi``, ``image prune``.

Each follows docker 28's cli/command/image: the same requests, the same default formats and
headers (formatter/image.go, formatter_history.go), the same messages and exit statuses.
"""

from __future__ import annotations

from dockyard.cli import formatter, units
from dockyard.cli.flags import Command, Flag, Parsed, UsageError
from dockyard.cli.session import Session, StatusError
from dockyard.cli.template import Struct

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

FORMAT_HELP = ("Format output using a custom template:\n'table': Print output in table format "
               "with column headers (default)\n'table TEMPLATE': Print output in table format "
               "using the given Go template\n'json': Print in JSON format\n'TEMPLATE': Print "
               "output using the given Go template.")

IMAGE_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
               "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
IMAGE_TABLE_DIGEST = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                      "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
IMAGE_HEADER = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_RAW = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADER = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}
_EPOCH_2000 = 946684800

FILTER = Flag("filter", "f", "list", "Filter output based on conditions provided", metavar="filter")
FORMAT = Flag("format", "", "string", FORMAT_HELP)
LIST_FLAGS = (
    Flag("all", "a", help="Show all images (default hides intermediate images)"),
    Flag("digests", help="Show digests"), FILTER, FORMAT,
    Flag("no-trunc", help="Don't truncate output"),
    Flag("quiet", "q", help="Only show image IDs"),
)
LIST_ALIASES = "dockyard image ls, dockyard image list, dockyard images"
IMAGES = Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", LIST_FLAGS,
                 max_args=1, aliases=LIST_ALIASES)
IMAGE_LS = Command("image ls", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", LIST_FLAGS,
                   max_args=1, aliases=LIST_ALIASES)


def truncate_id(image_id: str) -> str:
    """stringid.TruncateID: drop the algorithm, keep 12 hex digits."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def parse_filters(values: list[str], command: Command) -> dict[str, list[str]]:
    """``-f k=v`` flags as filters.ParseFlag reads them (name lower-cased, both sides trimmed)."""
    filters: dict[str, list[str]] = {}
    for value in values:
        if "=" not in value:
            raise UsageError(
                f'invalid argument "{value}" for "-f, --filter" flag: bad format of filter '
                f"(expected name=value)\n\nUsage:  {command.use_line()}\n\n"
                f"Run '{command.command_path} --help' for more information", 125)
        name, _, arg = value.partition("=")
        filters.setdefault(name.strip().lower(), []).append(arg.strip())
    return filters


def image_format(source: str, quiet: bool, digest: bool) -> str:
    if source == "table":
        return "{{.ID}}" if quiet else IMAGE_TABLE_DIGEST if digest else IMAGE_TABLE
    if source.startswith("table") and digest and "{{.Digest}}" not in source:
        return source + "\t{{.Digest}}"
    return source


def _image_row(image: dict[str, Any], names: tuple[str, str, str], trunc: bool,
               now: float) -> Struct:
    repo, tag, digest = names
    created = int(image.get("Created") or 0)
    size = int(image.get("Size") or 0)
    shared = int(image.get("SharedSize", -1) if image.get("SharedSize") is not None else -1)
    containers = image.get("Containers", -1)
    image_id = str(image.get("Id", ""))
    return Struct("*formatter.imageContext", {
        "ID": truncate_id(image_id) if trunc else image_id,
        "Repository": repo, "Tag": tag, "Digest": digest,
        "CreatedSince": lambda: units.since(created, now),
        "CreatedAt": lambda: units.go_time_string(created),
        "Size": lambda: units.human_size(size, 3),
        "Containers": "N/A" if containers == -1 else str(containers),
        "VirtualSize": lambda: units.human_size(size),
        "SharedSize": "N/A" if shared == -1 else units.human_size(shared),
        "UniqueSize": "N/A" if shared == -1 or size == -1 else units.human_size(size - shared),
    })


def is_dangling(image: dict[str, Any]) -> bool:
    tags, digests = image.get("RepoTags") or [], image.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def image_rows(images: list[dict[str, Any]], trunc: bool, digest: bool, need_digest: bool,
               now: float) -> list[Struct]:
    """One row per repository:tag (and digest), as formatter.imageFormat expands them."""
    from dockyard.oci.reference import parse_reference

    rows: list[Struct] = []
    for image in images:
        if is_dangling(image):
            rows.append(_image_row(image, ("<none>", "<none>", "<none>"), trunc, now))
            continue
        tags: dict[str, list[str]] = {}
        digests: dict[str, list[str]] = {}
        for text in image.get("RepoTags") or []:
            try:
                ref = parse_reference(text)
            except Exception:
                continue
            if ref.tag is not None and ref.digest is None:
                tags.setdefault(ref.familiar_name(), []).append(ref.tag)
        for text in image.get("RepoDigests") or []:
            try:
                ref = parse_reference(text)
            except Exception:
                continue
            if ref.digest is not None:
                digests.setdefault(ref.familiar_name(), []).append(str(ref.digest))
        for repo, repo_tags in tags.items():
            repo_digests = digests.pop(repo, [])
            if not need_digest:
                repo_digests = []
            for tag in repo_tags:
                for dgst in repo_digests or ["<none>"]:
                    rows.append(_image_row(image, (repo, tag, dgst), trunc, now))
        for repo, repo_digests in digests.items():
            for dgst in repo_digests if digest else [""]:
                rows.append(_image_row(image, (repo, "<none>", dgst), trunc, now))
    return rows


def run_images(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import encode_filters

    filters = parse_filters(parsed.strings("filter"), command)
    if parsed.args:
        filters.setdefault("reference", []).append(parsed.args[0])
    query: dict[str, str | list[str]] = {}
    if parsed.flag("all"):
        query["all"] = "1"
    if filters:
        query["filters"] = encode_filters(filters)
    images = session.client().get("/images/json", query) or []
    digest = parsed.flag("digests")
    fmt = image_format(parsed.string("format") or "table", parsed.flag("quiet"), digest)
    rows = image_rows(images, not parsed.flag("no_trunc"), digest,
                      digest or "{{.Digest}}" in fmt, session.now())
    session.out.write(formatter.render(fmt, rows, IMAGE_HEADER))
    if parsed.args and not images and command is IMAGES and parsed.args[0] in _SUBCOMMANDS:
        session.out.flush()
        session.err.write(f'\nNo images found matching "{parsed.args[0]}": did you mean '
                          f'"dockyard image {parsed.args[0]}"?\n')
    return 0


_SUBCOMMANDS = frozenset({"build", "history", "import", "inspect", "list", "load", "ls", "prune",
                          "pull", "push", "rm", "save", "tag"})

HISTORY = Command("history", "[OPTIONS] IMAGE", "Show the history of an image", (
    FORMAT, Flag("human", "H", help="Print sizes and dates in human readable format", default=True),
    Flag("no-trunc", help="Don't truncate output"), Flag("quiet", "q", help="Only show image IDs"),
), min_args=1, max_args=1, aliases="dockyard image history, dockyard history")


def _history_row(item: dict[str, Any], trunc: bool, human: bool, now: float) -> Struct:
    created = int(item.get("Created") or 0)
    size = int(item.get("Size") or 0)
    image_id = str(item.get("Id", ""))
    created_by = str(item.get("CreatedBy", "")).replace("\t", " ")

    def since() -> str:
        if not human:
            return units.rfc3339(created)
        return "N/A" if created <= _EPOCH_2000 else units.since(created, now)

    return Struct("*image.historyContext", {
        "ID": truncate_id(image_id) if trunc and image_id.startswith("sha256:") else image_id,
        "CreatedAt": lambda: units.rfc3339(created),
        "CreatedSince": since,
        "CreatedBy": formatter.ellipsis(created_by, 45) if trunc else created_by,
        "Size": units.human_size(size, 3) if human else str(size),
        "Comment": str(item.get("Comment", "")),
    })


def run_history(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import image_path

    items = session.client().get(image_path(parsed.args[0], "/history")) or []
    human = parsed.flag("human")
    source = parsed.string("format") or "table"
    if source == "table":
        source = HISTORY_TABLE if human else HISTORY_TABLE_RAW
        if parsed.flag("quiet"):
            source = "{{.ID}}"
    trunc = not parsed.flag("no_trunc")
    rows = [_history_row(item, trunc, human, session.now()) for item in items]
    session.out.write(formatter.render(source, rows, HISTORY_HEADER))
    return 0


TAG = Command("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", (), 2, 2,
              interspersed=False, aliases="dockyard image tag, dockyard tag")


def run_tag(session: Session, command: Command, parsed: Parsed) -> int:
    """The client parses the target and sends it fully qualified (client/image_tag.go)."""
    from dockyard.client import image_path
    from dockyard.errors import InvalidArgument
    from dockyard.oci.reference import parse_any_reference, parse_reference

    source, target = parsed.args
    try:
        parse_any_reference(source)
    except InvalidArgument as exc:
        raise StatusError(f'Error parsing reference: "{source}" is not a valid repository/tag: '
                          f"{exc}") from exc
    try:
        ref = parse_reference(target)
    except InvalidArgument as exc:
        raise StatusError(f'Error parsing reference: "{target}" is not a valid repository/tag: '
                          f"{exc}") from exc
    if ref.digest is not None:
        raise StatusError("refusing to create a tag with a digest reference")
    query = {"repo": ref.repository, "tag": ref.tag or "latest"}
    session.client().call("POST", image_path(source, "/tag"), query)
    return 0


RMI_FLAGS = (Flag("force", "f", help="Force removal of the image"),
             Flag("no-prune", help="Do not delete untagged parents"))
RMI_ALIASES = "dockyard image rm, dockyard image remove, dockyard rmi"
RMI = Command("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", RMI_FLAGS,
              min_args=1, aliases=RMI_ALIASES)
IMAGE_RM = Command("image rm", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images",
                   RMI_FLAGS, min_args=1, aliases=RMI_ALIASES)


def run_rmi(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.client import DaemonError, image_path
    from dockyard.errors import NotFound

    query: dict[str, str | list[str]] = {}
    if parsed.flag("force"):
        query["force"] = "1"
    if parsed.flag("no_prune"):
        query["noprune"] = "1"
    failures: list[str] = []
    fatal = False
    for name in parsed.args:
        try:
            deleted = session.client().call("DELETE", image_path(name), query) or []
        except DaemonError as exc:
            fatal = fatal or not isinstance(exc, NotFound)
            failures.append(f"Error response from daemon: {exc}")
            continue
        for item in deleted:
            if item.get("Deleted"):
                session.out.write(f"Deleted: {item['Deleted']}\n")
            else:
                session.out.write(f"Untagged: {item.get('Untagged', '')}\n")
    if failures:
        if not parsed.flag("force") or fatal:
            raise StatusError("\n".join(failures))
        session.err.write("\n".join(failures) + "\n")
    return 0


PRUNE = Command("image prune", "[OPTIONS]", "Remove unused images", (
    Flag("all", "a", help="Remove all unused images, not just dangling ones"),
    Flag("filter", "", "list", 'Provide filter values (e.g. "until=<timestamp>")',
         metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
), max_args=0)
_PRUNE_ALL = ("WARNING! This will remove all images without at least one container "
              "associated to them.\nAre you sure you want to continue?")
_PRUNE_DANGLING = ("WARNING! This will remove all dangling images.\n"
                   "Are you sure you want to continue?")


def run_prune(session: Session, command: Command, parsed: Parsed) -> int:
    from dockyard.cli.commands.prune import write_report
    from dockyard.client import encode_filters

    filters = parse_filters(parsed.strings("filter"), command)
    filters["dangling"] = ["false" if parsed.flag("all") else "true"]
    warning = _PRUNE_ALL if parsed.flag("all") else _PRUNE_DANGLING
    if not parsed.flag("force") and not session.confirm(warning):
        raise StatusError("image prune has been cancelled")
    report = session.client().call("POST", "/images/prune",
                                   {"filters": encode_filters(filters)}) or {}
    deleted = report.get("ImagesDeleted") or []
    lines = [f"untagged: {item['Untagged']}" if item.get("Untagged")
             else f"deleted: {item.get('Deleted', '')}" for item in deleted]
    reclaimed = int(report.get("SpaceReclaimed") or 0) if deleted else 0
    write_report(session, "Deleted Images", lines, reclaimed)
    return 0
