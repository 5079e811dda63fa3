"""Which stages a build runs, in which order, and how (one after another, or in parallel).

The stages run are the target (``--target``, else the last) and the stages it needs, through
``FROM <stage>``, ``COPY --from=<stage>`` and ``RUN --mount=from=<stage>``; the others are
skipped, as BuildKit skips them (dockerd 20.10 ran every stage up to the target). Steps are
numbered over the stages run, global ARGs first, as the classic builder numbers them, and the
build's ``--label`` values are one LABEL step each at the end of the target.

When more than one stage runs and one of them has a RUN, stages may run in parallel: they run
one after another in the calling thread until a step has work to do, and then the stages not
started yet start at once in threads (:class:`_Scheduler`), each waiting for the stages it
needs. Their output is shown in Dockerfile order, the first unfinished stage live and the
others held until it is done (:class:`StageOutputs`); a failure cancels the rest.
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

    scheduler = _Scheduler(work, the_plan.order)
    job.on_work = scheduler.start_the_rest
    try:
        scheduler.run(job.cancel)
    finally:
        job.on_work = _nothing
    outputs.flush()
    if errors:
        errors.sort(key=lambda item: _rank(item[1]))
        raise errors[0][1]


def _nothing() -> None:
    pass


class _Scheduler:
    """Runs stages in the calling thread, one after another, until a step has work to do (the
    cache does not have it, or an image must be pulled): then every stage not started yet
    starts in a thread of its own. A cached build so starts no thread at all.

    Threads are started with ``_thread`` rather than ``threading.Thread``, whose ``start``
    waits until the new thread runs: that wait, for the GIL the new stage holds, cost more than
    a cached stage."""

    def __init__(self, work: Callable[[int], None], order: tuple[int, ...]) -> None:
        self._work = work
        self._pending = list(order)
        self._ended: list[threading.Event] = []
        self._lock = threading.Lock()

    def start_the_rest(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, []
            events = [threading.Event() for _ in rest]
            self._ended += events
        for index, ended in zip(rest, events, strict=True):
            _thread.start_new_thread(self._thread, (index, ended))

    def _thread(self, index: int, ended: threading.Event) -> None:
        try:
            self._work(index)
        finally:
            ended.set()

    def run(self, cancel: threading.Event) -> None:
        """Run the stages; return once every stage started has ended."""
        while not cancel.is_set():
            with self._lock:
                if not self._pending:
                    break
                index = self._pending.pop(0)
            self._work(index)
        with self._lock:
            self._pending = []  # a failure: the stages not started never start
            ended = list(self._ended)
        for event in ended:
            event.wait()


def _rank(exc: BaseException) -> int:
    """The error to report: a real failure before the cancellations it caused."""
    from dockyard.build.job import Cancelled

    return 1 if isinstance(exc, Cancelled) else 0
