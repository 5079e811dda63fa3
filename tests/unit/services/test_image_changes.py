"""``--change`` instructions applied to a container config, as dockerd's BuildFromConfig."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.oci.config import ContainerConfig, Healthcheck
from dockyard.services.image_changes import (
    apply_changes,
    expand,
    expand_words,
    logical_lines,
    raw_words,
    valid_signal,
)


def test_no_changes_is_the_empty_config() -> None:
    assert apply_changes([]) == ContainerConfig()
    assert apply_changes(["", "# a comment"]) == ContainerConfig()


def test_every_instruction() -> None:
    config = apply_changes([
        'ENV A=1 B="x y"',
        "ENV C $A-${B}",
        "CMD echo hi",
        'ENTRYPOINT ["/bin/tini", "--"]',
        "EXPOSE 80 8000-8001/udp",
        'LABEL a=b "c d"=e',
        "WORKDIR app",
        "WORKDIR sub",
        "VOLUME /data /x",
        "USER nobody",
        "STOPSIGNAL SIGINT",
        "ONBUILD RUN echo",
        "HEALTHCHECK --interval=5s --retries=3 CMD curl -f x",
    ])
    assert config == ContainerConfig(
        user="nobody",
        exposed_ports=("80/tcp", "8000/udp", "8001/udp"),
        env=("A=1", "B=x y", "C=1-x y"),
        entrypoint=("/bin/tini", "--"),
        cmd=("/bin/sh", "-c", "echo hi"),
        volumes=("/data", "/x"),
        working_dir="/app/sub",
        labels={"a": "b", "c d": "e"},
        stop_signal="SIGINT",
        healthcheck=Healthcheck(test=("CMD-SHELL", "curl -f x"), interval=5_000_000_000,
                                retries=3),
        on_build=("RUN echo",),
    )


def test_entrypoint_clears_a_cmd_set_before_the_changes_only() -> None:
    base = ContainerConfig(cmd=("sh",))
    assert apply_changes(["ENTRYPOINT top"], base).cmd is None
    both = apply_changes(["CMD [\"-b\"]", "ENTRYPOINT [\"top\"]"], base)
    assert (both.entrypoint, both.cmd) == (("top",), ("-b",))


def test_exec_and_shell_forms() -> None:
    assert apply_changes(['CMD ["a", "b c"]']).cmd == ("a", "b c")
    assert apply_changes(["CMD []"]).cmd == ()
    assert apply_changes(["CMD [not json"]).cmd == ("/bin/sh", "-c", "[not json")
    assert apply_changes(["CMD [1, 2]"]).cmd == ("/bin/sh", "-c", "[1, 2]")
    shell = ContainerConfig(shell=("/bin/bash", "-e", "-c"))
    assert apply_changes(["CMD x"], shell).cmd == ("/bin/bash", "-e", "-c", "x")


def test_env_replaces_and_expands() -> None:
    config = apply_changes(["ENV PATH=/bin", "ENV PATH=$PATH:/usr/bin X=${UNSET:-d}",
                            "ENV Y ${PATH:+set} 'q $A'"])
    assert config.env == ("PATH=/bin:/usr/bin", "X=d", "Y=set q $A")


def test_label_legacy_form_keeps_the_rest_of_the_line() -> None:
    assert apply_changes(["LABEL k some value"]).labels == {"k": "some value"}


def test_healthcheck_forms() -> None:
    assert apply_changes(["HEALTHCHECK NONE"]).healthcheck == Healthcheck(test=("NONE",))
    exec_form = apply_changes(['HEALTHCHECK --timeout=1m CMD ["true"]']).healthcheck
    assert exec_form == Healthcheck(test=("CMD", "true"), timeout=60_000_000_000)


def test_continuation_lines() -> None:
    assert logical_lines(["ENV A=1 \\", "  B=2", "# c", "CMD x"]) == ["ENV A=1   B=2", "CMD x"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN echo", "run is not a valid change command"),
        ("FROM x", "from is not a valid change command"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV A=1 B", 'Syntax error - can\'t find = in "B". Must be of the form: name=value'),
        ("ENV =1", "ENV names can not be blank"),
        ("LABEL =1", "LABEL names can not be blank"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("EXPOSE http", "Invalid containerPort: http"),
        ("EXPOSE 80/foo", "invalid proto: foo"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("STOPSIGNAL NOPE", "Invalid signal: NOPE"),
        ('VOLUME [""]', "VOLUME specified can not be an empty string"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK RUN x", 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --retries=0 CMD x", "--retries must be at least 1 (not 0)"),
        ("HEALTHCHECK --bogus=1 CMD x", "Unknown flag: bogus (in HEALTHCHECK)"),
        ("CMD", "CMD requires at least one argument"),
    ],
)
def test_errors_name_the_instruction(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_changes([change])
    assert str(caught.value) == message


def test_all_changes_are_checked_before_any_applies() -> None:
    with pytest.raises(InvalidArgument, match="run is not a valid change command"):
        apply_changes(["ENV A=1", "RUN x"])


def test_shell_words() -> None:
    variables = {"A": "1", "S": "x y"}
    assert expand("'$A'\"$A\"\\$A$A", variables) == "$A1$A1"
    assert expand("a  b", variables) == "a  b"
    assert expand_words("$S 'c d'", variables) == ["x", "y", "c d"]
    assert raw_words("a='b c' \"d e\"=f g\\ h") == ["a='b c'", '"d e"=f', "g\\ h"]
    with pytest.raises(InvalidArgument):
        expand("'open", variables)
    with pytest.raises(InvalidArgument):
        expand("${A", variables)


@given(st.text(alphabet="abc =\t", min_size=1, max_size=20))
def test_plain_words_split_like_str_split(text: str) -> None:
    assert expand_words(text, {}) == text.split()


def test_signals() -> None:
    assert all(valid_signal(s) for s in ("SIGTERM", "TERM", "kill", "9", "SIGRTMIN+3", "RTMAX"))
    assert not any(valid_signal(s) for s in ("NOPE", "0", "999", ""))
