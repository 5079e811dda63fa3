"""Typed instructions: every keyword, its flags, and the messages of bad input."""

from __future__ import annotations

import pytest

from dockyard.build import (
    Add,
    Arg,
    ArgDecl,
    Cmd,
    Copy,
    DockerfileError,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    HeredocFile,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Mount,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse_dockerfile,
    parse_trigger,
)
from dockyard.build.duration import parse_duration
from dockyard.build.mounts import csv_fields, parse_mount, ram_in_bytes
from dockyard.errors import InvalidArgument


def one(line: str) -> Instruction:
    """The one instruction after ``FROM scratch``."""
    return parse_dockerfile("FROM scratch\n" + line).stages[0].instructions[0]


def at(line: str) -> dict[str, object]:
    first_line = line.split("\n", maxsplit=1)[0]
    return {"line": 2, "end_line": 2 + line.count("\n"), "original": first_line}


CASES: list[tuple[str, Instruction]] = [
    ("RUN make all", Run(command=("make all",), **at("RUN make all"))),
    ('RUN ["make", "all"]', Run(command=("make", "all"), shell_form=False,
                                **at('RUN ["make", "all"]'))),
    ("RUN --network=none --security=insecure x",
     Run(command=("x",), network="none", security="insecure",
         **at("RUN --network=none --security=insecure x"))),
    ("RUN <<EOF\n\techo\nEOF", Run(command=("<<EOF",), heredocs=(HeredocFile("EOF", "\techo\n"),),
                                   **at("RUN <<EOF\n\techo\nEOF"))),
    ("CMD [\"a\"]", Cmd(command=("a",), shell_form=False, **at("CMD [\"a\"]"))),
    ("CMD", Cmd(command=(), **at("CMD"))),
    ("ENTRYPOINT []", Entrypoint(command=(), shell_form=False, **at("ENTRYPOINT []"))),
    ("ENTRYPOINT top -b", Entrypoint(command=("top -b",), **at("ENTRYPOINT top -b"))),
    ("LABEL a=b \"c d\"=e", Label(labels=(KeyValue("a", "b"), KeyValue('"c d"', "e")),
                                  **at("LABEL a=b \"c d\"=e"))),
    ("LABEL a b c", Label(labels=(KeyValue("a", "b c", legacy=True),), **at("LABEL a b c"))),
    ("MAINTAINER me <m@x>", Maintainer(maintainer="me <m@x>", **at("MAINTAINER me <m@x>"))),
    ("EXPOSE 8080 80/udp 443", Expose(ports=("443", "80/udp", "8080"),
                                      **at("EXPOSE 8080 80/udp 443"))),
    ("ENV A=1 B", None),  # error, see below
    ("ENV A 1 2", Env(env=(KeyValue("A", "1 2", legacy=True),), **at("ENV A 1 2"))),
    ("ADD --chown=u --chmod=600 --checksum=sha256:00 --keep-git-dir --unpack=false a b /d",
     Add(sources=("a", "b"), dest="/d", chown="u", chmod="600", checksum="sha256:00",
         keep_git_dir=True, unpack=False,
         **at("ADD --chown=u --chmod=600 --checksum=sha256:00 --keep-git-dir --unpack=false "
              "a b /d"))),
    ("ADD --link --exclude=a --exclude=b s /d",
     Add(sources=("s",), dest="/d", link=True, excludes=("a", "b"),
         **at("ADD --link --exclude=a --exclude=b s /d"))),
    ("COPY --from=0 --parents=true --link=false a /d",
     Copy(sources=("a",), dest="/d", from_="0", parents=True,
          **at("COPY --from=0 --parents=true --link=false a /d"))),
    ("COPY <<-A s <<B /d\n\tx\n\tA\ny\nB",
     Copy(sources=("s",), dest="/d", contents=(HeredocFile("A", "x\n"), HeredocFile("B", "y\n")),
          **at("COPY <<-A s <<B /d\n\tx\n\tA\ny\nB"))),
    ("VOLUME /a /b", Volume(paths=("/a", "/b"), **at("VOLUME /a /b"))),
    ("VOLUME [\" /a \"]", Volume(paths=("/a",), **at("VOLUME [\" /a \"]"))),
    ("USER 1:2", User(user="1:2", **at("USER 1:2"))),
    ("WORKDIR /a b", Workdir(path="/a b", **at("WORKDIR /a b"))),
    ("ARG A B=1 C=", Arg(args=(ArgDecl("A"), ArgDecl("B", "1"), ArgDecl("C", "")),
                         **at("ARG A B=1 C="))),
    ("STOPSIGNAL SIGTERM", StopSignal(signal="SIGTERM", **at("STOPSIGNAL SIGTERM"))),
    ("HEALTHCHECK NONE", Healthcheck(test=("NONE",), **at("HEALTHCHECK NONE"))),
    ("HEALTHCHECK --interval=10s --timeout=2s --start-period=1m --start-interval=500ms "
     "--retries=5 CMD curl x",
     Healthcheck(test=("CMD-SHELL", "curl x"), interval=10_000_000_000, timeout=2_000_000_000,
                 start_period=60_000_000_000, start_interval=500_000_000, retries=5,
                 **at("HEALTHCHECK --interval=10s --timeout=2s --start-period=1m "
                      "--start-interval=500ms --retries=5 CMD curl x"))),
    ("HEALTHCHECK --interval=0s CMD [\"a\"]",
     Healthcheck(test=("CMD", "a"), **at("HEALTHCHECK --interval=0s CMD [\"a\"]"))),
    ('SHELL ["pwsh", "-c"]', Shell(shell=("pwsh", "-c"), **at('SHELL ["pwsh", "-c"]'))),
    ("ONBUILD USER x", Onbuild(trigger="USER", expression="USER x",
                               instruction=User(user="x", **at("USER x")),
                               **at("ONBUILD USER x"))),
    ("ONBUILD NOPE x", Onbuild(trigger="NOPE", expression="NOPE x", **at("ONBUILD NOPE x"))),
]


@pytest.mark.parametrize(("line", "instruction"), [c for c in CASES if c[1] is not None],
                         ids=[c[0] for c in CASES if c[1] is not None])
def test_instruction(line: str, instruction: Instruction) -> None:
    assert one(line) == instruction


def test_from() -> None:
    dockerfile = parse_dockerfile("FROM --platform=linux/arm64 alpine:3 as Build\nFROM build")
    assert [s.from_ for s in dockerfile.stages] == [
        From(image="alpine:3", name="build", platform="linux/arm64", line=1, end_line=1,
             original="FROM --platform=linux/arm64 alpine:3 as Build"),
        From(image="build", line=2, end_line=2, original="FROM build"),
    ]
    assert dockerfile.stage("BUILD") is dockerfile.stages[0]
    assert dockerfile.stage("1") is dockerfile.stages[1]
    assert dockerfile.stage("2") is None


ERRORS = [
    ("FORM x", "unknown instruction: FORM (did you mean FROM?)"),
    ("form x", "unknown instruction: form (did you mean from?)"),
    ("Form x", "unknown instruction: Form (did you mean from?)"),
    ("XYZZY x", "unknown instruction: XYZZY"),
    ("COPY --form=a b c", "unknown flag --form for COPY (did you mean --from?)"),
    ("COPY --chown a b", "missing a value on flag: --chown"),
    ("COPY --link= a b", "missing a value on flag: --link"),
    ("COPY --link=yes a b", "expecting boolean value for flag --link, not: yes"),
    ("COPY --from=a --from=b a b", "duplicate flag specified: --from"),
    ("COPY a", "COPY requires at least two arguments, but only one was provided. Destination "
               "could not be determined"),
    ("ADD a", "ADD requires at least two arguments"),
    ("COPY a <<EOF\nEOF", "COPY cannot accept a heredoc as a destination"),
    ("ENV", "ENV requires at least one argument"),
    ("ENV A", "ENV must have two arguments"),
    ("ENV A=1 B", "syntax error - can't find = in \"B\"; must be of the form: name=value"),
    ("ENV =1", "ENV names can not be blank"),
    ("LABEL", "LABEL requires at least one argument"),
    ("ENV --x A=1", "unknown flag --x for ENV: ENV takes no flags"),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("USER", "USER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ("VOLUME [\"\"]", "VOLUME specified can not be an empty string"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
    ("SHELL", "SHELL requires at least one argument"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("SHELL sh -c", "SHELL requires the arguments to be in JSON form"),
    ("CMD [\"a\", {}]", "when using JSON array syntax, arrays must be comprised of strings only"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK RUN x", 'unknown type "RUN" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --interval=1 CMD x", 'time: missing unit in duration "1"'),
    ("HEALTHCHECK --timeout=999us CMD x", "--timeout cannot be less than 1ms (got 999us)"),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ("HEALTHCHECK --retries=x CMD x", '--retries must be a whole number, not "x"'),
    ("HEALTHCHECK --retries=3000000000 CMD x", '--retries "3000000000" is out of range'),
    ("HEALTHCHECK --foo=1 CMD x", "unknown flag --foo for HEALTHCHECK"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD ONBUILD RUN x", "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("RUN --network=bridge x", 'invalid network mode "bridge": use default, none or host'),
    ("RUN --security=x y", 'security "x" is not valid: use sandbox or insecure'),
    ("RUN --mount=type=nfs,target=/x y", 'unsupported mount type "nfs"'),
    ("RUN --mount=type=cahce,target=/x y", 'unsupported mount type "cahce" (did you mean cache?)'),
    ("RUN --mount=target=/x,mode=0600 y", 'mode not allowed for "bind" type mounts'),
    ("RUN --mount=type=secret y", "invalid secret mount. one of source, target required"),
    ("RUN --mount=type=secret,id=a,src=b y", "both source and id can't be set"),
    ("RUN --mount=type=secret,id=a,from=b y", "secret mount should not have a from"),
    ("RUN --mount=type=bind,sharing=shared,target=/x y", "invalid cache sharing set for bind "
                                                         "mount"),
    ("RUN --mount=type=cache,sharing=all,target=/x y", 'unsupported sharing value "all"'),
    ("RUN --mount=target=/x,required y", "unexpected key 'required' for mount type 'bind'"),
    ("RUN --mount=target=/x,nope y", "invalid field 'nope' must be a key=value pair"),
    ("RUN --mount=target=/x,tagret=/y z", "unexpected key 'tagret' in 'tagret=/y' (did you mean "
                                          "target?)"),
    ("RUN --mount=target=/x,ro=maybe y", "invalid value for ro: maybe"),
    ("RUN --mount=type=cache,target=/x,uid=-1 y", "invalid value -1 for uid"),
    ("RUN --mount=type=cache,target=/x,mode=9 y", "invalid value 9 for mode"),
    ("RUN --mount=from=$STAGE,target=/x y", "'from' doesn't support variable expansion"),
    ("RUN --mount= y", "failed to parse csv mounts"),
    ("RUN --mount=target=\\\"/x y", "failed to parse csv mounts: bare \" in non-quoted field"),
]


@pytest.mark.parametrize(("line", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(line: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile("FROM scratch\n" + line)
    assert str(caught.value).startswith("Dockerfile:2: " + message)
    assert caught.value.line == 2


def test_flags_after_a_bare_double_dash_are_arguments() -> None:
    assert one("COPY --link -- --a b").sources == ("--a",)  # type: ignore[union-attr]


def test_arg_and_stopsignal_ignore_flags_as_dockerd_does() -> None:
    assert one("ARG --x A").args == (ArgDecl("A"),)  # type: ignore[union-attr]
    assert one("STOPSIGNAL --x 9").signal == "9"  # type: ignore[union-attr]
    assert one("HEALTHCHECK --bogus NONE").test == ("NONE",)  # type: ignore[union-attr]


def test_mount_defaults_and_aliases() -> None:
    assert parse_mount("target=/x") == Mount(target="/x", spec="target=/x")
    assert parse_mount("type=CACHE,dst=/c,ro") == Mount(type="cache", target="/c",
                                                         spec="type=CACHE,dst=/c,ro")
    assert parse_mount("type=tmpfs,destination=/t,size=1.5k") == Mount(
        type="tmpfs", target="/t", readonly=False, size=1536,
        spec="type=tmpfs,destination=/t,size=1.5k")
    assert parse_mount("type=ssh,id=default,required=false,mode=600,uid=1,gid=2") == Mount(
        type="ssh", id="default", mode=0o600, uid=1, gid=2,
        spec="type=ssh,id=default,required=false,mode=600,uid=1,gid=2")
    assert parse_mount("src=a,target=/b,readwrite=true").readonly is False


def test_mount_with_variables_is_checked_after_expansion() -> None:
    deferred = parse_mount("type=$T,target=$DIR,size=$S")
    assert (deferred.type, deferred.target, deferred.size) == ("$T", "$DIR", 0)
    env = {"T": "tmpfs", "DIR": "/t", "S": "2m"}
    assert parse_mount(deferred.spec, lambda v: env.get(v[1:], v)) == Mount(
        type="tmpfs", target="/t", readonly=False, size=2 << 20, spec=deferred.spec)


def test_csv_fields() -> None:
    assert csv_fields('a,"b,c","d""e",') == ["a", "b,c", 'd"e', ""]
    for bad in ('a"b', '"a', '"a"b'):
        with pytest.raises(InvalidArgument):
            csv_fields(bad)


@pytest.mark.parametrize(("text", "size"), [
    ("100", 100), ("1k", 1024), ("1KiB", 1024), ("1 kb", 1024), ("2m", 2 << 20),
    ("1.5g", 3 << 29), ("1t", 1 << 40), ("3b", 3), ("1e3", 1000),
])
def test_ram_in_bytes(text: str, size: int) -> None:
    assert ram_in_bytes(text) == size


@pytest.mark.parametrize("text", ["", "k", "1x", "1kk", "1kbb", "-1", "1kib2"])
def test_ram_in_bytes_errors(text: str) -> None:
    with pytest.raises(InvalidArgument):
        ram_in_bytes(text)


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("0", 0), ("+0", 0), ("-0", 0), ("1ns", 1), ("1.5us", 1500), ("1µs", 1000),
    ("1μs", 1000), ("3ms", 3_000_000), ("2s", 2_000_000_000), ("1.5m", 90_000_000_000),
    ("1h2m3.5s", 3_723_500_000_000), (".5s", 500_000_000), ("1.s", 1_000_000_000),
    ("-1.5h", -5_400_000_000_000), ("2562047h47m16.854775807s", (1 << 63) - 1),
    ("0.000000001s", 1), ("1.0000000000000000001s", 1_000_000_000),
])
def test_parse_duration(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("1", 'time: missing unit in duration "1"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'),
    (".s", 'time: invalid duration ".s"'),
    ("s", 'time: invalid duration "s"'),
    ("1s2", 'time: missing unit in duration "1s2"'),
    ("2562048h", 'time: invalid duration "2562048h"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
])
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_stages_and_meta_args() -> None:
    dockerfile = parse_dockerfile("ARG A\nARG B=1 C\nFROM x\nARG D\nRUN a\nFROM y AS z\n")
    assert [a.args for a in dockerfile.meta_args] == [(ArgDecl("A"),),
                                                      (ArgDecl("B", "1"), ArgDecl("C"))]
    assert [(s.index, s.name, len(s.instructions)) for s in dockerfile.stages] == [
        (0, "", 2), (1, "z", 0)]


@pytest.mark.parametrize(("text", "message"), [
    ("RUN x\nFROM a", "Dockerfile:1: RUN before the first FROM: a Dockerfile starts with FROM "
                      "(only ARG may come before it)"),
    ("ARG A\n", "Dockerfile:1: no FROM instruction: nothing to build"),
    ("FROM a AS x\nFROM b AS X", 'Dockerfile:2: duplicate stage name "x"'),
    ("FROM", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a b", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a AS", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a TO b", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a AS b_c!", 'Dockerfile:1: invalid name for build stage: "b_c!"'),
    ("FROM --platform a", "Dockerfile:1: missing a value on flag: --platform"),
    ("FROM a\n\\\n", "Dockerfile:2: line continuation with no instruction before it"),
])
def test_dockerfile_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(text)
    assert str(caught.value).startswith(message)


def test_parse_trigger() -> None:
    assert parse_trigger("RUN <<X\nhi\nX") == Run(
        command=("<<X",), heredocs=(HeredocFile("X", "hi\n"),), line=1, end_line=3,
        original="RUN <<X")
    for bad, message in [("FROM x", "FROM isn't allowed as an ONBUILD trigger"),
                         ("ONBUILD RUN x", "ONBUILD isn't allowed"),
                         ("RUN a\nRUN b", "onbuild trigger should be a single expression"),
                         ("FOO bar", "unknown instruction: FOO (did you mean FROM?)"),
                         ("COPY x", "COPY requires at least two arguments")]:
        with pytest.raises(InvalidArgument) as caught:
            parse_trigger(bad)
        assert message in str(caught.value)
        assert str(caught.value).startswith("invalid ONBUILD trigger ")
