"""``docker import/commit --change``: dockerd's allowed instructions, checked with dockerd 20.10.

dockerd 20.10.24 here accepts CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER,
VOLUME and WORKDIR, and answers "stopsignal is not a valid change command" for STOPSIGNAL
(tried with ``docker import --change 'STOPSIGNAL SIGKILL' empty.tar``).
"""

from __future__ import annotations

import pytest

from dockyard.build import (
    Cmd,
    Env,
    Healthcheck,
    KeyValue,
    Label,
    Onbuild,
    Run,
    User,
    expand,
    parse_change,
    parse_changes,
)
from dockyard.errors import InvalidArgument


def test_cmd_exec_form() -> None:
    assert parse_change('CMD ["nginx", "-g", "daemon off;"]') == Cmd(
        line=1, end_line=1, original='CMD ["nginx", "-g", "daemon off;"]',
        command=("nginx", "-g", "daemon off;"), shell_form=False)


def test_env_is_expanded_by_the_caller_against_the_image_env() -> None:
    change = parse_change('ENV a=$b c="d e"')
    assert expand(change, {"b": "B"}) == Env(
        line=1, end_line=1, original='ENV a=$b c="d e"',
        env=(KeyValue("a", "B"), KeyValue("c", "d e")))
    # dockerd: `docker import --change 'ENV a=$b'` on an image without b gives "a=".
    assert expand(change, {}).env[0] == KeyValue("a", "")


def test_healthcheck_is_allowed() -> None:
    assert parse_change("HEALTHCHECK CMD true") == Healthcheck(
        line=1, end_line=1, original="HEALTHCHECK CMD true", test=("CMD-SHELL", "true"))


def test_lower_case_keyword_and_quotes() -> None:
    change = parse_change('label a="b c"')
    assert expand(change, {}) == Label(line=1, end_line=1, original='label a="b c"',
                                       labels=(KeyValue("a", "b c"),))


def test_onbuild_keeps_its_trigger() -> None:
    change = parse_change("ONBUILD RUN make")
    assert isinstance(change, Onbuild)
    assert (change.trigger, change.expression) == ("RUN", "RUN make")
    assert isinstance(change.instruction, Run)


def test_several_changes_are_one_dockerfile() -> None:
    assert parse_changes(["LABEL a=b", "USER x"]) == (
        Label(line=1, end_line=1, original="LABEL a=b", labels=(KeyValue("a", "b"),)),
        User(line=2, end_line=2, original="USER x", user="x"),
    )


@pytest.mark.parametrize(("change", "message"), [
    ("STOPSIGNAL SIGKILL", 'invalid change "STOPSIGNAL SIGKILL": stopsignal is not a valid '
     "change command (use one of CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, "
     "USER, VOLUME, WORKDIR)"),
    ("RUN x", 'invalid change "RUN x": run is not a valid change command'),
    ("FROM x", 'invalid change "FROM x": from is not a valid change command'),
    ("ARG x", 'invalid change "ARG x": arg is not a valid change command'),
    ("FORM x", 'invalid change "FORM x": form is not a valid change command'),
    ("ENV a", 'invalid change "ENV a": ENV must have two arguments'),
    ("CMD --foo=1 x", 'invalid change "CMD --foo=1 x": unknown flag --foo for CMD'),
    ("", 'invalid change "": file with no instructions'),
    ("LABEL a=b\nUSER x", 'invalid change "LABEL a=b\\nUSER x": a change is one instruction'),
])
def test_refused(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_change(change)
    assert str(caught.value).startswith(message)


def test_error_names_the_change_it_comes_from() -> None:
    with pytest.raises(InvalidArgument, match='invalid change "SHELL x"'):
        parse_changes(["USER a", "SHELL x"])
