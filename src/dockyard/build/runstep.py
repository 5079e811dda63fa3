"""The RUN step: its cache key, its container's process and mounts, and its layer.

``RUN --mount`` (BuildKit's syntax, which the classic builder refuses) is supported this way:

* ``type=cache``: a directory under the data root, kept between builds, by ``id`` (default
  the target); read-write;
* ``type=bind``: a path of the context (or of a stage or image with ``from``), read-only;
  with ``rw`` the step writes to a throwaway copy;
* ``type=tmpfs``: an empty tmpfs;
* ``type=secret``: a secret given with ``dockyard build --secret id=...,src=...``, as a
  read-only file (``/run/secrets/<id>`` unless ``target`` says otherwise). It is never
  written into a layer. The classic API (``docker build``) cannot pass secrets: such a step
  fails unless the mount says ``required=false``;
* ``type=ssh``: not supported.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

from dockyard.build.fsops import TreeCopy
from dockyard.build.imageconfig import Step, container_id
from dockyard.build.instructions import Run
from dockyard.build.job import StepFailed
from dockyard.build.mounts import Mount as RunMount
from dockyard.build.run import (
    BindMount,
    ProcessSpec,
    TmpfsMount,
    build_arg_env,
    command,
    failure,
    recorded,
)
from dockyard.build.steps import merge_health
from dockyard.errors import InvalidArgument, Unsupported

if TYPE_CHECKING:
    from dockyard.build.stage import StageBuilder


def run_step(builder: StageBuilder, run: Run) -> None:
    state = builder._state()
    config = state.run
    cmd = command(run, config)
    args = build_arg_env(builder.args.values(), config.env)
    saved = (*recorded(args, builder.declared), *cmd)
    network = _network(builder.job.options.network, run.network)
    key = builder.key(run, args=tuple(sorted(args)), extra=f"network={network}")
    if builder.probe(key, saved, replace(config, healthcheck=merge_health(
            config.healthcheck, builder.parent_health())), run.original):
        return
    cid = container_id()
    builder.out.running_in(cid)
    job = builder.job
    with ExitStack() as stack, job.layers.scratch(state.chain, "RUN") as scratch:
        mounts = [_mount(builder, m, stack) for m in run.mounts]
        spec = ProcessSpec(
            args=cmd, env=(*config.env, *args), user=config.user,
            cwd=config.working_dir or "/", network=network,
            hostname=cid[:12], mounts=tuple(m for m in mounts if m is not None),
        )
        code = job.executor.run(scratch.mounts, spec, builder.out.stdout, builder.out.stderr,
                                job.cancel)
        job.check_cancelled()
        if code != 0:
            if job.options.force_remove:
                builder.out.removing(cid)
            raise StepFailed(failure(cmd, code), code)
        blob = job.layers.commit(scratch, state.config.diff_ids, job.options.epoch)
    new = replace(config, healthcheck=merge_health(config.healthcheck, builder.parent_health()))
    step = Step(saved, new, blob.diff_id if blob else None, state.author, cid,
                replace(new, cmd=saved, entrypoint=None))
    builder.commit(key, step, blob, run.original)
    if job.options.remove or job.options.force_remove:
        builder.out.removing(cid)


def _network(option: str, flag: str) -> str:
    """RUN's network: its ``--network``, else the build's; the default (bridge) is the host's
    until bridge networks exist."""
    mode = flag if flag != "default" else option
    return "none" if mode == "none" else "host"


def _mount(builder: StageBuilder, mount: RunMount,
           stack: ExitStack) -> BindMount | TmpfsMount | None:
    target = mount.target
    if not target and mount.type != "secret":
        raise InvalidArgument(f"RUN --mount={mount.spec}: target is required")
    if mount.type == "tmpfs":
        return TmpfsMount(target, mount.size)
    if mount.type == "cache":
        return _cache(builder, mount)
    if mount.type == "secret":
        return _secret(builder, mount)
    if mount.type == "bind":
        return _bind(builder, mount, stack)
    raise Unsupported(f"RUN --mount=type={mount.type} is not supported")


def _cache(builder: StageBuilder, mount: RunMount) -> BindMount:
    root = builder.job.cache_mounts
    if root is None:
        raise Unsupported("RUN --mount=type=cache needs a cache directory")
    ident = mount.id or mount.target
    name = hashlib.sha256(ident.encode()).hexdigest()[:32]
    path = root / name
    if not path.exists():
        path.mkdir(parents=True, mode=0o755)
        os.chown(path, mount.uid or 0, mount.gid or 0)
        if mount.mode is not None:
            os.chmod(path, mount.mode)
    return BindMount(str(path), mount.target, readonly=False)


def _secret(builder: StageBuilder, mount: RunMount) -> BindMount | None:
    ident = mount.id or os.path.basename(mount.target)
    target = mount.target or f"/run/secrets/{ident}"
    secrets = builder.job.options.secrets
    if ident not in secrets:
        if secrets and not mount.required:
            return None
        if not secrets:
            raise InvalidArgument(
                f"RUN --mount=type=secret,id={ident}: the secret was not given; secrets can be "
                "passed with dockyard build --secret id=...,src=..., not through the classic "
                "build API that docker build and docker-py use")
        raise InvalidArgument(f"RUN --mount=type=secret,id={ident}: no secret with that id "
                              f"was given (have: {', '.join(sorted(secrets))})")
    directory = builder.job.tmp / f"secret-{container_id()[:16]}"
    directory.mkdir(mode=0o700, parents=True)
    path = directory / "secret"
    path.write_bytes(secrets[ident])
    os.chmod(path, 0o400 if mount.mode is None else mount.mode)
    os.chown(path, mount.uid or 0, mount.gid or 0)
    return BindMount(str(path), target, readonly=True)


def _bind(builder: StageBuilder, mount: RunMount, stack: ExitStack) -> BindMount:
    if mount.from_:
        base = builder._copy_base(mount.from_)
        root = stack.enter_context(builder.job.layers.view(base.chain))
        from dockyard.build.fsops import host_path, scoped

        source = host_path(root, scoped(root, mount.source))
    else:
        context = builder.job.context
        source = str(context.path(context.resolve(mount.source.strip("/"))))
    if not os.path.exists(source):
        raise InvalidArgument(f"RUN --mount={mount.spec}: {mount.source or '/'} not found")
    if not mount.readonly:
        copy = builder.job.tmp / f"bind-{container_id()[:16]}"
        if os.path.isdir(source):
            copy.mkdir(parents=True)
            TreeCopy(None).copy(source, str(copy))
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        stack.callback(shutil.rmtree, copy, ignore_errors=True)
        source = str(copy)
    return BindMount(source, mount.target, readonly=mount.readonly)
