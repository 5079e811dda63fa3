"""Golden Dockerfiles: each directory holds a Dockerfile and expected.json.

expected.json has:

- ``nodes``: what the parser makes of the file (or ``parse_error``);
- ``dockerfile``: the typed stages and global ARGs (or ``error``, a DockerfileError message);
- ``dockerd`` (for files the classic builder can build from ``scratch``): the ``--build-arg``
  values used, and the image config dockerd 20.10.24 built from the file (``docker image
  inspect --format '{{json .Config}}'``) or the error it gave. These were recorded from the
  real daemon by this module's ``--record-dockerd``; the test replays the file's metadata
  instructions through our parser, expander and build-arg scoping and must reach the same
  config, or fail where dockerd failed (``expand_error`` is our message then).

Regenerate our side after a deliberate change, then review the diff:
``python tests/golden/build/test_golden.py [case ...]``; re-record dockerd's side with
``--record-dockerd`` (needs /var/run/docker.sock; builds only FROM scratch, pulls nothing).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import sys
from pathlib import Path
from typing import Any

import pytest

from dockyard.build import (
    Arg,
    BuildArgs,
    Cmd,
    Dockerfile,
    DockerfileError,
    Entrypoint,
    Env,
    Expander,
    Expose,
    From,
    Healthcheck,
    Label,
    Onbuild,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse_dockerfile,
)
from dockyard.build.instructions import Located
from dockyard.build.parser import parse

HERE = Path(__file__).parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "Dockerfile").is_file())
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def to_json(value: Any) -> Any:
    """Dataclasses as dicts without their default-valued fields; instructions get a type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        if isinstance(value, Located):
            out["type"] = type(value).__name__
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.name not in ("line", "end_line") and _is_default(field, item):
                continue
            out[field.name] = to_json(item)
        return out
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


def _is_default(field: dataclasses.Field[Any], item: Any) -> bool:
    if field.default is not dataclasses.MISSING:
        return bool(item == field.default)
    if field.default_factory is not dataclasses.MISSING:
        return bool(item == field.default_factory())
    return False


def our_side(text: str, build_args: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        out["nodes"] = [to_json(node) for node in parse(text).nodes]
    except DockerfileError as exc:
        out["parse_error"] = str(exc)
    try:
        dockerfile = parse_dockerfile(text)
    except DockerfileError as exc:
        out["error"] = str(exc)
        return out
    out["dockerfile"] = {
        "directives": to_json(dockerfile.directives),
        "meta_args": to_json(dockerfile.meta_args),
        "stages": to_json(dockerfile.stages),
        "warnings": list(dockerfile.warnings),
    }
    try:
        out["expanded"] = replay(dockerfile, build_args)[1]
    except DockerfileError as exc:
        out["expand_error"] = str(exc)
    return out


def load(case: str) -> tuple[str, dict[str, Any]]:
    text = (HERE / case / "Dockerfile").read_bytes().decode("utf-8")
    expected = json.loads((HERE / case / "expected.json").read_text())
    return text, expected


_OURS = ("nodes", "parse_error", "dockerfile", "error", "expanded", "expand_error")


@pytest.mark.parametrize("case", CASES)
def test_parse(case: str) -> None:
    text, expected = load(case)
    ours = our_side(text, expected.get("dockerd", {}).get("build_args", {}))
    wanted = {key: expected[key] for key in _OURS if key in expected}
    assert ours == wanted


# --- the classic builder's metadata steps, replayed to compare with dockerd -----------------


@dataclasses.dataclass
class Config:
    env: list[str] = dataclasses.field(default_factory=lambda: [DEFAULT_PATH])
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    ports: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    workdir: str = ""
    user: str = ""
    stop_signal: str = ""
    healthcheck: dict[str, Any] | None = None
    onbuild: list[str] = dataclasses.field(default_factory=list)
    shell: list[str] = dataclasses.field(default_factory=list)
    cmd_set: bool = False

    def env_map(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.env)

    def set_env(self, key: str, value: str) -> None:
        for index, item in enumerate(self.env):
            if item.split("=", 1)[0] == key:
                self.env[index] = f"{key}={value}"
                return
        self.env.append(f"{key}={value}")

    def inspect(self) -> dict[str, Any]:
        """The shape of ``docker image inspect --format '{{json .Config}}'``."""
        out: dict[str, Any] = {
            "User": self.user, "ExposedPorts": self.ports, "Env": self.env, "Cmd": self.cmd,
            "Healthcheck": self.healthcheck, "Volumes": self.volumes,
            "WorkingDir": self.workdir, "Entrypoint": self.entrypoint, "OnBuild": self.onbuild,
            "Labels": self.labels, "StopSignal": self.stop_signal, "Shell": self.shell,
        }
        return {key: value for key, value in out.items() if value}


def _command(config: Config, command: tuple[str, ...], shell_form: bool) -> list[str] | None:
    if shell_form:
        return [*(config.shell or ["/bin/sh", "-c"]), *command]
    return list(command) or None


def _health(check: Healthcheck) -> dict[str, Any]:
    out = {"Test": list(check.test), "Interval": check.interval, "Timeout": check.timeout,
           "StartPeriod": check.start_period, "StartInterval": check.start_interval,
           "Retries": check.retries}
    return {key: value for key, value in out.items() if value}


def _merge_health(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """dockerd merges each committed config with its parent's (daemon/commit.go merge): a
    HEALTHCHECK keeps the previous one's interval, timeout, start period and retries where
    it sets none, even across HEALTHCHECK NONE."""
    return {**(old or {}), **new}


def _step(config: Config, instruction: Any) -> None:
    match instruction:
        case Env():
            for pair in instruction.env:
                config.set_env(pair.key, pair.value)
        case Label():
            config.labels.update((pair.key, pair.value) for pair in instruction.labels)
        case Cmd():
            config.cmd = _command(config, instruction.command, instruction.shell_form)
            config.cmd_set = True
        case Entrypoint():
            config.entrypoint = _command(config, instruction.command, instruction.shell_form)
            if not config.cmd_set:
                config.cmd = None
        case Expose():
            config.ports.update((p if "/" in p else p + "/tcp", {}) for p in instruction.ports)
        case Volume():
            config.volumes.update((path, {}) for path in instruction.paths)
        case Workdir():
            config.workdir = posixpath.join("/", config.workdir, instruction.path)
        case User():
            config.user = instruction.user
        case StopSignal():
            config.stop_signal = instruction.signal
        case Healthcheck():
            config.healthcheck = _merge_health(_health(instruction), config.healthcheck)
        case Onbuild():
            config.onbuild.append(instruction.expression)
        case Shell():
            config.shell = list(instruction.shell)


def replay(dockerfile: Dockerfile, build_args: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """The last stage's config, built as dockerd's classic builder builds metadata steps, and
    every stage's instructions as expanded on the way."""
    args = BuildArgs.start(build_args, dockerfile.meta_args)
    configs: dict[str, Config] = {}
    config = Config()
    stages = []
    for stage in dockerfile.stages:
        from_ = Expander(args.global_env()).expand(stage.from_)
        assert isinstance(from_, From)
        base = configs.get(from_.image.lower())
        config = Config() if base is None else dataclasses.replace(
            base, env=list(base.env), labels=dict(base.labels), cmd_set=False)
        scope = args.stage()
        steps = [from_]
        for instruction in stage.instructions:
            env = scope.environment(config.env_map())
            expanded = Expander(env).expand(instruction)
            steps.append(expanded)
            if isinstance(instruction, Arg):
                scope = scope.declare(instruction, env)
            _step(config, expanded)
        configs[stage.name or str(stage.index)] = config
        stages.append(to_json(steps))
    return config.inspect(), stages


DOCKERD_CASES = [case for case in CASES if (HERE / case / "expected.json").exists()
                 and "dockerd" in load(case)[1]]


@pytest.mark.parametrize("case", DOCKERD_CASES)
def test_same_config_as_dockerd(case: str) -> None:
    text, expected = load(case)
    dockerd = expected["dockerd"]
    if "error" in dockerd:
        with pytest.raises(DockerfileError) as caught:
            replay(parse_dockerfile(text), dockerd["build_args"])
        wanted = expected.get("expand_error", expected.get("error"))
        assert str(caught.value) == wanted
    else:
        assert replay(parse_dockerfile(text), dockerd["build_args"])[0] == dockerd["config"]


# --- regeneration ---------------------------------------------------------------------------


def regenerate(case: str, record_dockerd: bool) -> None:
    text, expected = load(case) if (HERE / case / "expected.json").exists() else (
        (HERE / case / "Dockerfile").read_text(), {})
    ours = our_side(text, expected.get("dockerd", {}).get("build_args", {}))
    fresh: dict[str, Any] = {"about": expected.get("about", "")}
    fresh.update(ours)
    if "dockerd" in expected:
        dockerd = expected["dockerd"]
        if record_dockerd:
            from record_dockerd import build_with_dockerd  # type: ignore[import-not-found]

            dockerd = build_with_dockerd(HERE / case, dockerd.get("build_args", {}))
        fresh["dockerd"] = dockerd
    (HERE / case / "expected.json").write_text(json.dumps(fresh, indent=1, ensure_ascii=False)
                                               + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or CASES
    for name in names:
        regenerate(name, "--record-dockerd" in flags)
        print("wrote", name)
