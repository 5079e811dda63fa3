"""``ps``: the container's processes: their pids as JSON, or ``ps`` output (``ps -ef`` by
default) filtered to them, as runc prints it."""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.state import StateRoot


def pids(root: StateRoot, container_id: str) -> list[int]:
    """The pids in the container's cgroup (empty once it is gone)."""
    from dockyard.runtime import confinement

    saved = root.open(container_id).read()
    if saved is None or not saved.cgroup_paths:
        return []
    try:
        return confinement.open_cgroup(saved.cgroup_paths).pids()
    except FileNotFoundError:
        return []


def ps_table(container_pids: list[int], ps_args: list[str]) -> str:
    """Run ``ps`` and keep its header and the lines of ``container_pids``."""
    import subprocess

    result = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise InvalidArgument(f"ps: {result.stdout}{result.stderr}".strip())
    lines = result.stdout.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("couldn't find PID field in ps output")
    index = titles.index("PID")
    keep = set(container_pids)
    out = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        try:
            pid = int(fields[index])
        except (IndexError, ValueError) as exc:
            raise InvalidArgument(f"unable to parse pid: {line!r}") from exc
        if pid in keep:
            out.append(line)
    return "\n".join(out) + "\n"
