"""One build stage, step by step, as dockerd 20.10's classic builder dispatches it.

Each instruction is expanded with the stage's environment (the image's ENV plus the build args
in scope), keyed for the cache (:mod:`dockyard.build.cache`), and either taken from the cache
(`` ---> Using cache``) or run: metadata steps change the config only, WORKDIR, COPY and ADD
write into a fresh snapshot, RUN goes to the executor (:mod:`dockyard.build.runstep`). Every
step commits an image config (:mod:`dockyard.build.imageconfig`); its ID is what
`` ---> <id>`` shows and the parent of the next step's key.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from dockyard.build import cachefrom
from dockyard.build.cache import Entry, step_key
from dockyard.build.copying import CopyOptions, copy_sources, destination, download, is_url
from dockyard.build.dockerfile import Stage, parse_trigger
from dockyard.build.errors import DockerfileError
from dockyard.build.expand import Expander
from dockyard.build.fsops import ROOT, Owner, mkdir_all, parse_chmod, parse_chown, scoped
from dockyard.build.imageconfig import Step, base_config, child, container_id
from dockyard.build.instructions import Add, Arg, Copy, From, Instruction, Run, Workdir
from dockyard.build.job import BaseImage, Cancelled, Job, StepFailed
from dockyard.build.output import Output
from dockyard.build.sources import Source, combined, from_context, from_image
from dockyard.build.steps import Change, apply, merge_health, nop_command, with_default_path
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images.assemble import LayerBlob
from dockyard.oci.config import ContainerConfig, ImageConfig
from dockyard.oci.config import Healthcheck as Health
from dockyard.oci.digest import Digest
from dockyard.oci.identity import chain_ids
from dockyard.oci.platform import Platform

log = logging.getLogger(__name__)


@dataclass
class State:
    """Where a stage is: the image so far (its ID, config and blobs), the container config the
    next step starts from (``run``: the image's, with a default PATH and without the ONBUILD
    triggers it ran), and the stage's flags."""

    image_id: str
    config: ImageConfig
    layers: tuple[LayerBlob, ...]
    run: ContainerConfig
    cmd_set: bool = False
    author: str = ""
    key: str = ""

    def adopt(self, config: bytes, layers: tuple[LayerBlob, ...], key: str) -> None:
        """Move on to the image whose config is ``config``."""
        self.image_id = str(Digest.of(config))
        self.config = ImageConfig.from_json(config)
        self.run = self.config.config or ContainerConfig()
        self.layers = layers
        self.key = key

    @property
    def chain(self) -> str:
        ids = chain_ids(self.config.diff_ids)
        return str(ids[-1]) if ids else ""

    def result(self) -> BaseImage:
        return BaseImage(self.image_id, self.config, self.layers)


@dataclass(frozen=True, slots=True)
class Numbering:
    """The ``Step i/n`` of the stage's FROM, and the build's total."""

    first: int
    total: int


class StageBuilder:
    """Builds one stage of a Dockerfile."""

    def __init__(self, job: Job, stage: Stage, out: Output, numbering: Numbering,
                 extra: tuple[Instruction, ...] = ()) -> None:
        self.job = job
        self.stage = stage
        self.out = out
        self.numbering = numbering
        self.extra = extra  # --label instructions: not expanded, counted as steps
        self.args = job.args.stage()
        self.declared: set[str] = set()
        self.state: State | None = None
        self.platform = job.platform

    @property
    def filename(self) -> str:
        return self.job.filename

    # -- the stage ------------------------------------------------------------------------

    def build(self) -> BaseImage:
        index = self.numbering.first
        self.out.step(index, self.numbering.total, self.stage.from_.original)
        self._located(self.stage.from_, self._begin)
        state = self._state()
        self.out.image(state.image_id)
        steps = [(i, True) for i in self.stage.instructions] + [(i, False) for i in self.extra]
        for offset, (instruction, expand) in enumerate(steps, start=1):
            self.job.check_cancelled()
            self.out.step(index + offset, self.numbering.total, instruction.original)
            self._located(instruction, partial(self._dispatch, instruction, expand))
            self.out.image(self._state().image_id)
        result = self._state().result()
        if result.image_id:
            self.out.aux(Digest.parse(result.image_id))
        return result

    def _state(self) -> State:
        if self.state is None:
            raise InvalidArgument("Please provide a source image with `from` prior to commit")
        return self.state

    def _located(self, instruction: Instruction, action: Callable[[], None]) -> None:
        """Run a step; a failure names the Dockerfile and the line."""
        try:
            action()
        except (DockerfileError, Cancelled):
            raise
        except StepFailed as exc:
            if exc.located:
                raise
            raise StepFailed(f"{self.filename}:{instruction.line}: {exc}", exc.code,
                             exc.status, located=True) from exc
        except DockyardError as exc:
            message = f"{self.filename}:{instruction.line}: {exc}"
            raise StepFailed(message, http_status=exc.http_status, located=True) from exc
        except OSError as exc:
            message = f"{self.filename}:{instruction.line}: {exc.strerror or exc}" + (
                f": {exc.filename}" if exc.filename else "")
            raise StepFailed(message, located=True) from exc

    def _begin(self) -> None:
        from_ = Expander(self.job.args.global_env(), filename=self.filename).expand(
            self.stage.from_)
        assert isinstance(from_, From)
        if not from_.image:
            raise InvalidArgument(f"base name ({self.stage.from_.image}) should not be blank")
        if from_.platform:
            self.platform = Platform.parse(from_.platform).normalize()
        base = self._base(from_.image)
        run = with_default_path(base.config.config or ContainerConfig())
        triggers = run.on_build
        self.state = State(base.image_id, base.config, base.layers, replace(run, on_build=()))
        if triggers:
            self._triggers(triggers)

    def _stage_index(self, ref: str) -> int | None:
        """The earlier stage named ``ref`` (a later one's name is an image name)."""
        index = self.job.names.get(ref.lower())
        return index if index is not None and index < self.stage.index else None

    def _base(self, name: str) -> BaseImage:
        index = self._stage_index(name)
        if index is not None:
            return self.job.stage_result(index)
        if name == "scratch":
            return BaseImage("", base_config(self.platform))
        return self._image(name, self.job.options.pull)

    def _image(self, name: str, pull: bool) -> BaseImage:
        """The image ``name``, pulled if ``pull`` is set or it is not here."""
        if not pull:
            found = self.job.images.local(name, self.platform)
            if found is not None:
                return found
        self.job.on_work()
        return self.job.images.base(name, self.platform, pull, self.out)

    def _triggers(self, triggers: tuple[str, ...]) -> None:
        plural = "s" if len(triggers) > 1 else ""
        self.out.text(f"# Executing {len(triggers)} build trigger{plural}\n")
        for trigger in triggers:
            self._dispatch(parse_trigger(trigger), True)

    # -- steps ----------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(item.split("=", 1) for item in self._state().run.env if "=" in item)
        return self.args.environment(env)

    def _dispatch(self, instruction: Instruction, expand: bool) -> None:
        env = self.environment()
        expanded = instruction
        if expand:
            expanded = Expander(env, filename=self.filename).expand(instruction)
        if isinstance(instruction, Arg):
            self.args = self.args.declare(instruction, env)
            names = {decl.name for decl in instruction.args}
            self.declared |= names
            self.job.used_args |= names
        if isinstance(expanded, From):
            raise InvalidArgument("FROM inside a stage")
        if isinstance(expanded, Run):
            from dockyard.build.runstep import run_step

            run_step(self, expanded)
        elif isinstance(expanded, Copy | Add):
            self._copy(expanded)
        elif isinstance(expanded, Workdir):
            self._workdir(expanded)
        else:
            self._metadata(expanded)

    def key(self, instruction: Instruction, *, sources: str = "", args: tuple[str, ...] = (),
            extra: str = "") -> str:
        """The cache key of ``instruction`` (expanded) as the next step of this stage."""
        state = self._state()
        parent = state.image_id or f"scratch {self.platform}"
        described = repr(replace(instruction, line=0, end_line=0, original=""))
        extra = f"epoch={self.job.options.epoch} cmd_set={state.cmd_set} {extra}"
        return step_key(parent, described, args=args, sources=sources, extra=extra)

    def probe(self, key: str, command: tuple[str, ...] = (),
              config: ContainerConfig | None = None, description: str = "") -> bool:
        """Take the step from the cache if it is there (and the cache is used), else from a
        ``--cache-from`` image whose history has it (``command`` is its history line,
        ``config`` the container config it leaves). False: the step has work to do."""
        if self._probe(key, command, config, description):
            return True
        self.job.on_work()
        return False

    def _probe(self, key: str, command: tuple[str, ...], config: ContainerConfig | None,
               description: str) -> bool:
        if self.job.options.no_cache:
            return False
        if self._cached(key):
            return True
        if not (self.job.cache_sources and command and config is not None):
            return False
        state = self._state()
        found = cachefrom.find(self.job.cache_sources, state.result(), command, config,
                               self.job.docker_version)
        if found is None:
            return False
        source, restored = found
        self.job.cache_sources = [source]
        self.out.using_cache()
        layers = restored.image.layers
        added = layers[-1].size if len(layers) > len(state.layers) else 0
        self.job.cache.put(key, state.key, description, restored.config, layers=layers,
                           size=added)
        state.adopt(restored.config, layers, key)
        return True

    def _cached(self, key: str) -> bool:
        """Take the step from the build cache if it is there (not from ``--cache-from``)."""
        if self.job.options.no_cache:
            return False
        entry = self.job.cache.get(key, self._valid)
        if entry is None:
            return False
        self.out.using_cache()
        self._state().adopt(entry.config, entry.layers, key)
        return True

    def _valid(self, entry: Entry) -> bool:
        if not entry.layers:
            return True
        if not self.job.layers.content.exists(entry.layers[-1].digest):
            return False
        try:
            self.job.layers.snapshotter.stat(entry.chain)
        except NotFound:
            return False
        return True

    def commit(self, key: str, step: Step, blob: LayerBlob | None, description: str) -> None:
        """Record the step's image: the new config, the cache entry, the new state."""
        state = self._state()
        new = child(state.config, state.image_id, step, self.job.stamp())
        data = new.canonical_json()
        layers = (*state.layers, blob) if blob is not None else state.layers
        self.job.cache.put(key, state.key, description, data, layers=layers,
                           size=blob.size if blob is not None else 0)
        state.adopt(data, layers, key)

    def _metadata(self, instruction: Instruction) -> None:
        state = self._state()
        change = apply(instruction, state.run, state.cmd_set)
        self.out.text(change.note)
        key = self.key(instruction)
        command = nop_command(change.config, change.comment, change.one_word)
        if not self.probe(key, command, self._merged(change), instruction.original):
            cid = container_id()
            self.out.running_in(cid)
            self.commit_container(key, instruction, change, None, cid)
        state.cmd_set = change.cmd_set
        if change.author is not None:
            state.author = change.author

    def commit_container(self, key: str, instruction: Instruction, change: Change,
                         blob: LayerBlob | None, cid: str) -> None:
        """Commit a step that ran in a container (all but COPY and ADD), as dockerd does:
        the healthcheck merged with the parent's, then ``Removing intermediate container``."""
        state = self._state()
        author = change.author if change.author is not None else state.author
        config = self._merged(change)
        command = nop_command(change.config, change.comment, change.one_word)
        step = Step(command, config, blob.diff_id if blob else None, author, cid,
                    replace(config, cmd=command))
        self.commit(key, step, blob, instruction.original)
        if self.job.options.remove or self.job.options.force_remove:
            self.out.removing(cid)

    def _merged(self, change: Change) -> ContainerConfig:
        """The config a container step commits: its healthcheck merged with the parent's."""
        return replace(change.config, healthcheck=merge_health(change.config.healthcheck,
                                                               self.parent_health()))

    def parent_health(self) -> Health | None:
        """The healthcheck of the image a step's container is made from."""
        config = self._state().config.config
        return config.healthcheck if config is not None else None

    def _workdir(self, instruction: Workdir) -> None:
        state = self._state()
        change = apply(instruction, state.run, state.cmd_set)
        key = self.key(instruction)
        command = nop_command(change.config, change.comment, change.one_word)
        if self.probe(key, command, self._merged(change), instruction.original):
            return
        cid = container_id()
        path = change.config.working_dir
        with self.job.layers.scratch(state.chain, "WORKDIR") as scratch:
            with self.job.layers.mounted(scratch) as root:
                try:  # dockerd makes the directory as it creates the step's container
                    mkdir_all(root, scoped(root, path), ROOT)
                except InvalidArgument:
                    raise InvalidArgument(f"Cannot mkdir: {path} is not a directory") from None
            self.out.running_in(cid)
            blob = self.job.layers.commit(scratch, state.config.diff_ids, self.job.options.epoch)
        self.commit_container(key, instruction, change, blob, cid)

    # -- COPY and ADD ---------------------------------------------------------------------

    def _copy(self, instruction: Copy | Add) -> None:
        name = "ADD" if isinstance(instruction, Add) else "COPY"
        from_ = instruction.from_ if isinstance(instruction, Copy) else ""
        if from_:
            base = self._copy_base(from_)
            origin = f"from={base.image_id}"
            if self._cached(self.key(instruction, sources=origin)):
                return  # the key names the source image, so its files need not be read
            with self.job.layers.view(base.chain) as root:
                sources = _failed(name, lambda: from_image(root, instruction.sources, from_))
                self._copy_from(instruction, name, sources, origin)
            return
        sources = _failed(name, lambda: self._context_sources(instruction))
        self._copy_from(instruction, name, sources, "")

    def _context_sources(self, instruction: Copy | Add) -> list[Source]:
        found: list[Source] = []
        names = list(instruction.sources)
        local = [n for n in names if not is_url(n)]
        checksum = instruction.checksum if isinstance(instruction, Add) else ""
        if checksum and local:
            raise InvalidArgument("checksum can't be specified for non-HTTP(S) sources")
        for name in names:
            if is_url(name):
                if isinstance(instruction, Copy):
                    raise InvalidArgument("source can't be a URL for COPY")
                found.append(download(name, self._tmp("download"), instruction.dest, checksum))
        if local:
            found += from_context(self.job.context, local)
        found += self._heredoc_sources(instruction)
        if not found:
            raise InvalidArgument("no source files were specified")
        return found

    def _heredoc_sources(self, instruction: Copy | Add) -> list[Source]:
        out: list[Source] = []
        for content in instruction.contents:
            directory = self._tmp("heredoc")
            path = directory / content.name
            path.write_text(content.data)
            os.chmod(path, 0o644)
            epoch = self.job.options.epoch
            if epoch is not None:
                os.utime(path, (epoch, epoch))
            digest = hashlib.sha256(content.data.encode()).hexdigest()
            out.append(Source(str(path), content.name, False, f"file:{digest}", local=False))
        return out

    def _tmp(self, what: str) -> Path:
        directory = self.job.tmp / f"{what}-{container_id()[:16]}"
        directory.mkdir(parents=True)
        return directory

    def _copy_base(self, ref: str) -> BaseImage:
        index = self._stage_index(ref)
        if index is None and ref.isascii() and ref.isdigit():
            index = int(ref)
            if index == self.stage.index:
                raise InvalidArgument(f"invalid from flag value {ref}: refers to current build "
                                      "stage")
            if index > self.stage.index:
                raise InvalidArgument(f"invalid from flag value {ref}: index out of bounds")
        if index is not None:
            return self.job.stage_result(index)
        return self._image(ref, False)

    def _copy_from(self, instruction: Copy | Add, name: str, sources: list[Source],
                   origin: str) -> None:
        state = self._state()
        if len(sources) > 1 and not instruction.dest.endswith("/"):
            raise InvalidArgument(f"When using {name} with more than one source file, the "
                                  "destination must be a directory and end with a /")
        checksum = combined(sources)
        chown = f"--chown={instruction.chown}" if instruction.chown else ""
        comment = f"{name} {chown}{checksum} in {instruction.dest} "
        key = self.key(instruction, sources=origin or checksum)
        command = nop_command(state.run, comment, True)
        if self.probe(key, command, state.run, instruction.original):
            return
        mode = parse_chmod(instruction.chmod) if instruction.chmod else None
        target = destination(state.run.working_dir, instruction.dest)
        with self.job.layers.scratch(state.chain, name) as scratch:
            with self.job.layers.mounted(scratch) as root:
                owner: Owner | None = ROOT
                if instruction.chown:
                    owner = parse_chown(root, instruction.chown)
                elif isinstance(instruction, Copy) and instruction.from_:
                    owner = None
                unpack = isinstance(instruction, Add) and instruction.unpack is not False
                parents = isinstance(instruction, Copy) and instruction.parents
                copy_sources(root, target, sources, CopyOptions(
                    owner, mode, unpack, instruction.excludes, parents))
            blob = self.job.layers.commit(scratch, state.config.diff_ids, self.job.options.epoch)
        step = Step(command, state.run, blob.diff_id if blob else None, state.author, "",
                    replace(state.run, cmd=command))
        self.commit(key, step, blob, instruction.original)


def _failed(name: str, find: Callable[[], list[Source]]) -> list[Source]:
    """The sources, or dockerd's ``COPY failed: ...`` error."""
    try:
        return find()
    except DockyardError as exc:
        raise StepFailed(f"{name} failed: {exc}", http_status=exc.http_status) from None
