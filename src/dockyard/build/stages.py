"""Which stages a build runs, in which order, and how (one after another, or in parallel).

The stages run are the target (``--target``, else the last) and the stages it needs, through
``FROM <stage>``, ``COPY --from=<stage>`` and ``RUN --mount=from=<stage>``; the others are
skipped, as BuildKit skips them (dockerd 20.10 ran every stage up to the target). Steps are
numbered over the stages run, global ARGs first, as the classic builder numbers them, and the
build's ``--label`` values are one LABEL step each at the end of the target.

When more than one stage runs and one of them has a RUN, stages run in threads: each starts at
once and waits for the stages it needs; the last runs in the calling thread. The others are
started with ``_thread`` rather than ``threading.Thread``, whose ``start`` waits until the new
thread runs: that wait, for the GIL the new stage holds, cost more than a cached stage. Their
output is shown in Dockerfile order, the first unfinished stage live and the others held until
it is done (:class:`StageOutputs`); a failure cancels the rest.
"""

from __future__ import annotations

import _thread
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.build.dockerfile import Dockerfile, Stage
from dockyard.build.errors import DockerfileError
from dockyard.build.expand import Expander
from dockyard.build.instructions import Copy, From, Instruction, KeyValue, Label, Run
from dockyard.build.job import BaseImage, Job
from dockyard.build.output import Output, StageOutputs
from dockyard.build.stage import Numbering, StageBuilder
from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """The stages to run (indexes, in Dockerfile order), the target, the first step number of
    each, the build's step count, and the label steps of the target."""

    order: tuple[int, ...]
    target: int
    first: dict[int, int]
    total: int
    labels: tuple[Instruction, ...]
    parallel: bool


def _label_steps(labels: dict[str, str]) -> tuple[Instruction, ...]:
    """The ``--label`` values as dockerd adds them: one LABEL per key, sorted, not expanded."""
    return tuple(Label(labels=(KeyValue(key, labels[key]),), original=f"LABEL {key}={labels[key]}")
                 for key in sorted(labels))


def _target(dockerfile: Dockerfile, target: str) -> int:
    if not target:
        return len(dockerfile.stages) - 1
    for stage in dockerfile.stages:
        if stage.name and stage.name == target.lower():
            return stage.index
    raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")


def dependencies(dockerfile: Dockerfile, stage: Stage, global_env: dict[str, str]) -> set[int]:
    """The earlier stages ``stage`` reads from."""
    names = {s.name: s.index for s in dockerfile.stages if s.name and s.index < stage.index}
    refs: list[str] = []
    try:
        from_ = Expander(global_env, filename=dockerfile.filename).expand(stage.from_)
        assert isinstance(from_, From)
        refs.append(from_.image.lower())
    except DockerfileError:
        pass  # the stage reports it when it runs
    for instruction in stage.instructions:
        if isinstance(instruction, Copy) and instruction.from_:
            refs.append(instruction.from_.lower())
        if isinstance(instruction, Run):
            refs += [m.from_.lower() for m in instruction.mounts if m.from_]
    found: set[int] = set()
    for ref in refs:
        if ref in names:
            found.add(names[ref])
        elif ref.isascii() and ref.isdigit() and int(ref) < stage.index:
            found.add(int(ref))
    return found


def plan(dockerfile: Dockerfile, target: str, labels: dict[str, str],
         global_env: dict[str, str]) -> Plan:
    last = _target(dockerfile, target)
    needed = {last}
    pending = [last]
    while pending:
        for dep in dependencies(dockerfile, dockerfile.stages[pending.pop()], global_env):
            if dep not in needed:
                needed.add(dep)
                pending.append(dep)
    order = tuple(sorted(needed))
    label_steps = _label_steps(labels)
    step = len(dockerfile.meta_args) + 1
    first: dict[int, int] = {}
    for index in order:
        first[index] = step
        step += 1 + len(dockerfile.stages[index].instructions)
    total = step - 1 + len(label_steps)
    has_run = any(isinstance(i, Run) for index in order
                  for i in dockerfile.stages[index].instructions)
    return Plan(order, last, first, total, label_steps, has_run and len(order) > 1)


def run_stages(job: Job, dockerfile: Dockerfile, the_plan: Plan,
               emit: Callable[[dict[str, object]], None]) -> BaseImage:
    """Build the planned stages; the target's result."""
    out = Output(emit)
    for number, arg in enumerate(dockerfile.meta_args, start=1):
        out.step(number, the_plan.total, arg.original)
    for stage in dockerfile.stages:
        if stage.name:
            job.names.setdefault(stage.name, stage.index)
    if not the_plan.parallel:
        for index in the_plan.order:
            _build(job, dockerfile, the_plan, index, out)
    else:
        _parallel(job, dockerfile, the_plan, emit)
    return job.results[the_plan.target]


def _build(job: Job, dockerfile: Dockerfile, the_plan: Plan, index: int, out: Output) -> None:
    stage = dockerfile.stages[index]
    extra = the_plan.labels if index == the_plan.target else ()
    builder = StageBuilder(job, stage, out, Numbering(the_plan.first[index], the_plan.total),
                           extra)
    job.record(index, stage.name, builder.build())


def _parallel(job: Job, dockerfile: Dockerfile, the_plan: Plan,
              emit: Callable[[dict[str, object]], None]) -> None:
    outputs = StageOutputs(emit, list(the_plan.order))
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        try:
            _build(job, dockerfile, the_plan, index, outputs.output(index))
        except BaseException as exc:
            with lock:
                errors.append((index, exc))
            job.cancel.set()
            return
        outputs.finish(index)

    ended = {index: threading.Event() for index in the_plan.order}

    def run(index: int) -> None:
        try:
            work(index)
        finally:
            ended[index].set()

    *others, last = the_plan.order
    for index in others:  # started without waiting for them to start (threading's start does)
        _thread.start_new_thread(run, (index,))
    run(last)
    for index in others:
        ended[index].wait()
    outputs.flush()
    if errors:
        errors.sort(key=lambda item: _rank(item[1]))
        raise errors[0][1]


def _rank(exc: BaseException) -> int:
    """The error to report: a real failure before the cancellations it caused."""
    from dockyard.build.job import Cancelled

    return 1 if isinstance(exc, Cancelled) else 0
