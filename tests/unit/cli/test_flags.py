"""pflag/cobra parsing rules, error texts and exit statuses."""

from __future__ import annotations

import pytest

from dockyard.cli.commands.images import HISTORY, IMAGES, TAG
from dockyard.cli.commands.transfer import IMPORT
from dockyard.cli.flags import HelpRequested, UsageError, help_text, parse


def test_bundled_and_valued_flags() -> None:
    parsed = parse(IMAGES, ["-aq", "--filter=dangling=true", "-f", "label=a", "busybox"])
    assert parsed.values == {"all": True, "digests": False, "filter": ["dangling=true", "label=a"],
                             "format": "", "no_trunc": False, "quiet": True}
    assert parsed.args == ["busybox"]


def test_short_flag_with_attached_value_and_interspersed_args() -> None:
    parsed = parse(IMPORT, ["-", "-cCMD x", "name:tag", "-m", "msg", "--change", "ENV a=b"])
    assert parsed.args == ["-", "name:tag"]
    assert parsed.strings("change") == ["CMD x", "ENV a=b"]
    assert parsed.string("message") == "msg"


def test_bool_values_and_defaults() -> None:
    assert parse(HISTORY, ["x"]).flag("human") is True
    assert parse(HISTORY, ["-H=false", "x"]).flag("human") is False
    assert parse(HISTORY, ["--human=0", "x"]).flag("human") is False


def test_double_dash_ends_flags_and_tag_is_not_interspersed() -> None:
    assert parse(IMAGES, ["--", "-a"]).args == ["-a"]
    assert parse(TAG, ["a", "-x"]).args == ["a", "-x"]


USAGE = ("\n\nUsage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
         "Run 'dockyard images --help' for more information")


@pytest.mark.parametrize(("argv", "message", "code"), [
    (["--foo"], "unknown flag: --foo" + USAGE, 125),
    (["-x"], "unknown shorthand flag: 'x' in -x" + USAGE, 125),
    (["-ax"], "unknown shorthand flag: 'x' in -ax" + USAGE, 125),
    (["--filter"], "flag needs an argument: --filter" + USAGE, 125),
    (["-f"], "flag needs an argument: 'f' in -f" + USAGE, 125),
    (["--no-trunc=foo"], 'invalid argument "foo" for "--no-trunc" flag: strconv.ParseBool: '
                         'parsing "foo": invalid syntax' + USAGE, 125),
    (["a", "b"], "dockyard: 'dockyard images' requires at most 1 argument" + USAGE, 1),
])
def test_errors(argv: list[str], message: str, code: int) -> None:
    with pytest.raises(UsageError) as info:
        parse(IMAGES, argv)
    assert (str(info.value), info.value.exit_code) == (message, code)


def test_argument_count_messages() -> None:
    with pytest.raises(UsageError) as info:
        parse(TAG, ["a"])
    assert str(info.value).startswith("dockyard: 'dockyard tag' requires 2 arguments\n")
    with pytest.raises(UsageError) as info:
        parse(IMPORT, [])
    assert str(info.value) == (
        "dockyard: 'dockyard import' requires at least 1 and at most 2 arguments\n\n"
        "Usage:  dockyard import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]\n\n"
        "Run 'dockyard import --help' for more information")


def test_help() -> None:
    with pytest.raises(HelpRequested):
        parse(IMAGES, ["-a", "--help"])
    text = help_text(IMAGES)
    assert text.startswith("Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n")
    assert "  -a, --all             Show all images (default hides intermediate images)" in text
    assert "  -f, --filter filter   Filter output based on conditions provided" in text
