"""Which instructions expand what, and the build-arg scoping the builder expands with."""

from __future__ import annotations

import pytest

from dockyard.build import (
    EXPANDED_FIELDS,
    Arg,
    ArgDecl,
    BuildArgs,
    DockerfileError,
    Expander,
    Instruction,
    KeyValue,
    expand,
    parse_dockerfile,
    platform_args,
)
from dockyard.build.instructions import Located
from dockyard.oci.platform import Platform

ENV = {"V": "val", "P": "80 443/udp", "D": "/data", "E": ""}


def first(line: str, escape: str = "\\") -> Instruction:
    prefix = f"# escape={escape}\n" if escape != "\\" else ""
    return parse_dockerfile(prefix + "FROM scratch\n" + line).stages[0].instructions[0]


def fields(instruction: Instruction) -> dict[str, object]:
    return {name: getattr(instruction, name) for name in instruction.__dataclass_fields__
            if name not in Located.__dataclass_fields__}


@pytest.mark.parametrize(("line", "expected"), [
    ("ENV A=$V B='$V' C=\"${V}s\" D=a\\ b", {"env": (
        KeyValue("A", "val"), KeyValue("B", "$V"), KeyValue("C", "vals"), KeyValue("D", "a b"))}),
    ("ENV $V=x", {"env": (KeyValue("val", "x"),)}),
    ("ENV A \"q\" $V", {"env": (KeyValue("A", "q val", legacy=True),)}),
    ("LABEL \"k $V\"=v", {"labels": (KeyValue("k val", "v"),)}),
    ("EXPOSE $P 22", {"ports": ("80", "443/udp", "22")}),  # sorted before expansion
    ("EXPOSE \"$P\"", {"ports": ("80 443/udp",)}),
    ("VOLUME $D \"$P\"", {"paths": ("/data", "80 443/udp")}),
    ("VOLUME [\"$D\"]", {"paths": ("/data",)}),
    ("USER ${V}:${E:-0}", {"user": "val:0"}),
    ("WORKDIR $D/'$V'", {"path": "/data/$V"}),
    ("STOPSIGNAL SIG${V}", {"signal": "SIGval"}),
    ("ARG A=$V B", {"args": (ArgDecl("A", "val"), ArgDecl("B"))}),
])
def test_expanded_fields(line: str, expected: dict[str, object]) -> None:
    result = expand(first(line), ENV)
    assert {key: fields(result)[key] for key in expected} == expected


def test_copy_and_add() -> None:
    copy = expand(first("COPY --chown=$V:$V --chmod=$E [\"$D/a\", \"$V b\", \"/dst/$V/\"]"), ENV)
    assert (copy.chown, copy.chmod, copy.sources, copy.dest) == (  # type: ignore[union-attr]
        "val:val", "", ("/data/a", "val b"), "/dst/val/")
    add = expand(first("ADD --checksum=$V http://x/$V.tgz /"), ENV)
    assert (add.checksum, add.sources) == ("val", ("http://x/val.tgz",))  # type: ignore[union-attr]


def test_heredoc_bodies_expand_unless_the_delimiter_is_quoted() -> None:
    copy = expand(first("COPY <<A <<'B' /d\n'$V' \"$V\" \\$V\nA\n$V\nB"), ENV)
    assert [c.data for c in copy.contents] == ["'val' \"val\" $V\n", "$V\n"]  # type: ignore


def test_copy_from_does_not_expand() -> None:
    assert expand(first("COPY --from=a$ x y"), ENV).from_ == "a$"  # type: ignore[union-attr]
    with pytest.raises(DockerfileError) as caught:
        expand(first("COPY --from=$V x y"), ENV)
    assert str(caught.value) == ("Dockerfile:2: variable expansion is not supported for --from, "
                                 "define a new stage with FROM using ARG from global scope as a "
                                 "workaround")


def test_run_expands_only_its_mounts() -> None:
    run = expand(first("RUN --mount=type=$T,target=$D echo $V"), {"T": "cache", "D": "/c"})
    assert run.command == ("echo $V",)  # type: ignore[union-attr]
    assert [(m.type, m.target, m.readonly) for m in run.mounts] == [  # type: ignore[union-attr]
        ("cache", "/c", False)]
    with pytest.raises(DockerfileError, match='Dockerfile:2: unsupported mount type "nfs"'):
        expand(first("RUN --mount=type=$T,target=/x y"), {"T": "nfs"})


@pytest.mark.parametrize("line", [
    "CMD echo $V", "ENTRYPOINT [\"$V\"]", "HEALTHCHECK CMD $V", "SHELL [\"$V\"]",
    "MAINTAINER $V", "ONBUILD ENV A=$V",
])
def test_instructions_that_keep_their_text(line: str) -> None:
    instruction = first(line)
    assert expand(instruction, ENV) is instruction


def test_the_table_names_real_fields() -> None:
    from dockyard.build import instructions

    for keyword, names in EXPANDED_FIELDS.items():
        cls = getattr(instructions, keyword.capitalize() if keyword != "stopsignal"
                      else "StopSignal")
        assert set(names) <= set(cls.__dataclass_fields__), keyword


def test_backtick_escape_in_expansion() -> None:
    env = expand(first("ENV A=`$V B=\\$V", escape="`"), ENV)
    assert env.env == (KeyValue("A", "$V"), KeyValue("B", "\\val"))  # type: ignore[union-attr]


def test_expansion_error_names_file_and_line() -> None:
    dockerfile = parse_dockerfile("FROM scratch\n\nWORKDIR ${DIR:?set DIR}", "ctx/Dockerfile")
    with pytest.raises(DockerfileError) as caught:
        expand(dockerfile.stages[0].instructions[0], {}, filename=dockerfile.filename)
    assert str(caught.value) == ('ctx/Dockerfile:3: failed to process "${DIR:?set DIR}": '
                                 "DIR: set DIR")
    assert caught.value.line == 3


def test_expander_records_the_names_it_looked_up() -> None:
    expander = Expander({"A": "1"})
    expander.expand(first("ENV X=$A Y=${B:-2} Z=$A"))
    assert expander.used == {"A", "B"}


# --- build args ------------------------------------------------------------------------------


def scope_for(text: str, options: dict[str, str] | None = None) -> tuple[BuildArgs, list[str]]:
    """Replay a one-stage Dockerfile; return the scope at its end and every ENV value seen."""
    dockerfile = parse_dockerfile(text)
    args = BuildArgs.start(options or {}, dockerfile.meta_args)
    scope = args.stage()
    env: dict[str, str] = {}
    seen = []
    for instruction in dockerfile.stages[0].instructions:
        current = scope.environment(env)
        if isinstance(instruction, Arg):
            scope = scope.declare(instruction, current)
            continue
        expanded = expand(instruction, current)
        for pair in expanded.env:  # type: ignore[union-attr]
            env[pair.key] = pair.value
            seen.append(f"{pair.key}={pair.value}")
    return scope, seen


def test_meta_args_only_reach_from_until_redeclared() -> None:
    dockerfile = parse_dockerfile("ARG IMG=alpine\nARG TAG=$IMG-3\nFROM $IMG:$TAG\n")
    args = BuildArgs.start({}, dockerfile.meta_args)
    assert args.global_env() == {"IMG": "alpine", "TAG": "alpine-3"}
    assert expand(dockerfile.stages[0].from_, args.global_env()).image == (  # type: ignore
        "alpine:alpine-3")
    _, seen = scope_for("ARG G=g\nFROM x\nENV A=[$G]\nARG G\nENV B=$G\n")
    assert seen == ["A=[]", "B=g"]


def test_build_arg_options_win_over_defaults() -> None:
    _, seen = scope_for("ARG G=g\nFROM x\nARG G\nARG L=l\nENV A=$G B=$L\n",
                        {"G": "opt-g", "L": "opt-l"})
    assert seen == ["A=opt-g", "B=opt-l"]


def test_env_wins_over_arg() -> None:
    _, seen = scope_for("FROM x\nARG A=arg\nENV A=env\nARG A=again\nENV B=$A\n", {"A": "opt"})
    assert seen == ["A=env", "B=env"]


def test_arg_without_value_is_unset_and_defaults_expand_in_order() -> None:
    # dockerd 20.10 expands all defaults of one ARG line before declaring any (BuildKit
    # would let B see A): B is empty.
    scope, seen = scope_for("FROM x\nARG U\nARG A=1 B=$A\nARG C=$A\nENV X=${U-unset} Y=$B\n")
    assert seen == ["X=unset", "Y="]
    assert scope.values() == {"A": "1", "B": "", "C": "1"}


def test_overridden_default_is_not_expanded() -> None:
    scope, _ = scope_for("FROM x\nARG A=${NOPE:?never}\nENV X=1\n", {"A": "given"})
    assert scope.values() == {"A": "given"}
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: .*NOPE: never"):
        scope_for("FROM x\nARG A=${NOPE:?never}\nENV X=1\n")


def test_stage_scope_is_fresh() -> None:
    args = BuildArgs.start({}, [])
    declared = args.stage().declare(first("ARG A=1"), {})  # type: ignore[arg-type]
    assert declared.values() == {"A": "1"}
    assert args.stage().values() == {}


def test_proxy_args_are_usable_undeclared() -> None:
    _, seen = scope_for("FROM x\nENV P=$HTTP_PROXY N=$no_proxy O=$OTHER\n",
                        {"HTTP_PROXY": "http://p", "no_proxy": "localhost", "OTHER": "o"})
    assert seen == ["P=http://p", "N=localhost", "O="]


def test_platform_args_are_global() -> None:
    target = Platform("arm64", "linux", variant="v8")
    build = Platform("amd64", "linux")
    automatic = platform_args(target, build, "final")
    assert automatic == {
        "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDOSVERSION": "",
        "BUILDARCH": "amd64", "BUILDVARIANT": "", "TARGETPLATFORM": "linux/arm64/v8",
        "TARGETOS": "linux", "TARGETOSVERSION": "", "TARGETARCH": "arm64",
        "TARGETVARIANT": "v8", "TARGETSTAGE": "final"}
    dockerfile = parse_dockerfile("FROM --platform=$BUILDPLATFORM x\nARG TARGETARCH\nENV A=1\n")
    args = BuildArgs.start({}, dockerfile.meta_args, automatic)
    assert expand(dockerfile.stages[0].from_, args.global_env()).platform == (  # type: ignore
        "linux/amd64")
    scope = args.stage().declare(dockerfile.stages[0].instructions[0], {})  # type: ignore
    assert scope.environment({}) == {"TARGETARCH": "arm64"}


def test_unused_build_args() -> None:
    dockerfile = parse_dockerfile("ARG M\nFROM x\nARG S\n")
    args = BuildArgs.start({"M": "1", "S": "2", "X": "3", "HTTP_PROXY": "p"},
                           dockerfile.meta_args)
    assert args.unused(["S"]) == ["X"]
