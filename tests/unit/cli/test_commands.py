"""Commands end to end against the scripted fake daemon: requests, output and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from dockyard.cli.main import run
from dockyard.cli.session import Session

from ..client import fake_daemon as fake

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "cli"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(daemon: Any, *argv: str, now: float = 1795811262.831, stdin: bytes = b"",
        out: io.StringIO | None = None) -> tuple[int, str, str]:
    out = out if out is not None else io.StringIO()
    err = io.StringIO()
    binary = io.BytesIO()
    session = Session(daemon.host if daemon else "", out=out, err=err,
                      stdin=io.BytesIO(stdin), stdout_binary=binary, now=lambda: now)
    code = run(list(argv), session, environ={})
    return code, out.getvalue() or binary.getvalue().decode("latin-1"), err.getvalue()


def test_images_matches_the_docker_trace(daemon: Any) -> None:
    golden = json.loads((GOLDEN / "images_trace.json").read_text())
    daemon.routes[("GET", "/images/json")] = lambda r: fake.json_reply(golden["images"])
    assert cli(daemon, "images", now=golden["now"]) == (0, golden["stdout"], "")


def test_images_filters_and_quiet(daemon: Any) -> None:
    images = [{"Id": "sha256:" + "ab" * 32, "RepoTags": ["a:1", "a:2"], "RepoDigests": [],
               "Created": 0, "Size": 5}]
    daemon.routes[("GET", "/images/json")] = lambda r: fake.json_reply(images)
    assert cli(daemon, "image", "ls", "-aq", "-f", "dangling=false", "a") == (
        0, "abababababab\nabababababab\n", "")
    assert daemon.requests[-1].query == (
        "all=1&filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%2C%22reference%22%3A%7B"
        "%22a%22%3Atrue%7D%7D")
    code, out, _ = cli(daemon, "images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}")
    assert (code, out) == (0, "a:1 5B\na:2 5B\n")


def test_template_errors_exit_1(daemon: Any) -> None:
    daemon.routes[("GET", "/images/json")] = lambda r: fake.json_reply([{"Id": "sha256:1"}])
    assert cli(daemon, "images", "--format", "{{.Foo}}") == (
        1, "", 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate '
               "field Foo in type *formatter.imageContext\n")


def test_rmi_prints_untagged_and_deleted_and_collects_errors(daemon: Any) -> None:
    def delete(request: Any) -> Any:
        if request.path == "/images/nosuch":
            return fake.error_reply(404, "No such image: nosuch:latest")
        return fake.json_reply([{"Untagged": "a:1"}, {"Deleted": "sha256:ab"}])

    daemon.routes[("DELETE", "/images/a:1")] = delete
    daemon.routes[("DELETE", "/images/nosuch")] = delete
    assert cli(daemon, "rmi", "a:1", "nosuch") == (
        1, "Untagged: a:1\nDeleted: sha256:ab\n",
        "Error response from daemon: No such image: nosuch:latest\n")
    assert cli(daemon, "rmi", "-f", "nosuch")[0] == 0
    assert daemon.requests[-1].query == "force=1"


def test_tag_sends_the_repository_fully_qualified(daemon: Any) -> None:
    daemon.routes[("POST", "/images/busybox/tag")] = lambda r: (201, {}, b"")
    assert cli(daemon, "tag", "busybox", "tracetest/bb:v1") == (0, "", "")
    assert daemon.requests[-1].query == "repo=docker.io%2Ftracetest%2Fbb&tag=v1"
    code, _, err = cli(daemon, "tag", "busybox", "Bad Name")
    assert code == 1
    assert err.startswith('Error parsing reference: "Bad Name" is not a valid repository/tag')


def test_inspect_reindents_raw_json_and_reports_missing(daemon: Any) -> None:
    raw = b'{"Id":"sha256:1","RepoTags":["a:1"],"Config":{"Env":null,"Labels":{}},"X":"\\u003c"}'
    daemon.routes[("GET", "/images/a/json")] = lambda r: (200, {}, raw)
    daemon.routes[("GET", "/images/b/json")] = lambda r: fake.error_reply(404, "no such image: b")
    code, out, err = cli(daemon, "image", "inspect", "a", "b")
    assert (code, err) == (1, "Error response from daemon: no such image: b\n")
    assert out == ('[\n    {\n        "Id": "sha256:1",\n        "RepoTags": [\n            "a:1"\n'
                   '        ],\n        "Config": {\n            "Env": null,\n'
                   '            "Labels": {}\n        },\n        "X": "\\u003c"\n    }\n]\n')
    assert cli(daemon, "inspect", "-f", "{{.Config.Env}} {{json .RepoTags}}", "a") == (
        0, '[] ["a:1"]\n', "")
    assert cli(daemon, "inspect", "b") == (1, "[]\n", "Error: No such object: b\n")


def test_history_table(daemon: Any) -> None:
    items = [{"Id": "sha256:" + "cd" * 32, "Created": 1795811262 - 7200,
              "CreatedBy": "/bin/sh -c #(nop)\tCMD [\"sh\"] and a long tail of text here",
              "Size": 1982319, "Comment": "Imported from -", "Tags": None}]
    daemon.routes[("GET", "/images/x/history")] = lambda r: fake.json_reply(items)
    assert cli(daemon, "history", "x") == (0, (
        "IMAGE          CREATED       CREATED BY                                      SIZE      "
        "COMMENT\n"
        "cdcdcdcdcdcd   2 hours ago   /bin/sh -c #(nop) CMD [\"sh\"] and a long tail…   1.98MB    "
        "Imported from -\n"), "")


def test_load_and_save_stream_bodies(daemon: Any, tmp_path: Path) -> None:
    tar = b"x" * 70000
    daemon.routes[("POST", "/images/load")] = lambda r: fake.json_reply(
        {"stream": f"Loaded image: a:{len(r.body)}\n"})
    daemon.routes[("GET", "/images/get")] = lambda r: (200, {}, [tar[:100], tar[100:]])
    assert cli(daemon, "load", stdin=tar) == (0, "Loaded image: a:70000\n", "")
    assert daemon.requests[-1].query == "quiet=1"
    assert cli(daemon, "save", "-o", str(tmp_path / "o.tar"), "a:1")[0] == 0
    assert (tmp_path / "o.tar").read_bytes() == tar
    assert cli(daemon, "save", "a:1", out=Tty()) == (
        1, "", "cowardly refusing to save to a terminal. Use the -o flag or redirect\n")


def test_import_sends_changes_and_prints_the_id(daemon: Any, tmp_path: Path) -> None:
    daemon.routes[("POST", "/images/create")] = lambda r: fake.json_reply(
        {"status": "sha256:" + "ef" * 32})
    (tmp_path / "r.tar").write_bytes(b"tar")
    assert cli(daemon, "import", "-c", 'CMD ["sh"]', "-m", "hi", str(tmp_path / "r.tar"),
               "bb:1") == (0, "sha256:" + "ef" * 32 + "\n", "")
    request = daemon.requests[-1]
    assert request.query == "changes=CMD%20%5B%22sh%22%5D&fromSrc=-&message=hi&repo=bb%3A1"
    assert request.body == b"tar"


def test_version_renders_both_halves(daemon: Any) -> None:
    daemon.routes[("GET", "/version")] = lambda r: fake.json_reply({
        "Version": "0.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.24", "GoVersion": "py",
        "GitCommit": "abc", "Os": "linux", "Arch": "amd64", "BuildTime": "",
        "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {
            "ApiVersion": "1.41", "MinAPIVersion": "1.24", "GitCommit": "abc",
            "GoVersion": "py", "Os": "linux", "Arch": "amd64", "BuildTime": "",
            "Experimental": "false"}}, {"Name": "runtime", "Version": "1", "Details": {
                "GitCommit": "x"}}]})
    code, out, err = cli(daemon, "version")
    assert (code, err) == (0, "")
    assert out.split("\n\n")[1] == (
        "Server:\n Engine:\n  Version:          0.1.0\n"
        "  API version:      1.41 (minimum version 1.24)\n  Go version:       py\n"
        "  Git commit:       abc\n  Built:            \n  OS/Arch:          linux/amd64\n"
        "  Experimental:     false\n runtime:\n  Version:          1\n  GitCommit:        x\n")


def test_version_format_uses_go_field_names(daemon: Any) -> None:
    server = {"Version": "0.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.24", "Os": "linux"}
    daemon.routes[("GET", "/version")] = lambda r: fake.json_reply(server)
    assert cli(daemon, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}") == (
        0, "1.41 linux\n", "")
    code, out, _ = cli(daemon, "version", "--format", "{{json .Server}}")
    assert (code, list(json.loads(out))) == (0, ["Version", "ApiVersion", "MinAPIVersion", "Os",
                                                  "Platform", "Components"])


def test_system_df(daemon: Any) -> None:
    du = {"LayersSize": 226431422, "Images": [
        {"Id": "sha256:1", "Containers": 1, "Size": 2000000, "SharedSize": 0},
        {"Id": "sha256:2", "Containers": 0, "Size": 224431422, "SharedSize": 0}],
        "Containers": [], "Volumes": [], "BuildCache": None}
    daemon.routes[("GET", "/system/df")] = lambda r: fake.json_reply(du)
    assert cli(daemon, "system", "df") == (0, (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        "Images          2         1         226.4MB   224.4MB (99%)\n"
        "Containers      0         0         0B        0B\n"
        "Local Volumes   0         0         0B        0B\n"
        "Build Cache     0         0         0B        0B\n"), "")


def test_usage_errors_and_unknown_commands() -> None:
    code, _, err = cli(None, "images", "--nope")
    assert (code, err.splitlines()[0]) == (125, "unknown flag: --nope")
    assert cli(None, "nosuch") == (1, "", "dockyard: unknown command: dockyard nosuch\n\n"
                                          "Run 'dockyard --help' for more information\n")
    code, _, err = cli(None, "image")
    assert code == 0 and err.startswith("Usage:  dockyard image COMMAND\n")
    code, out, _ = cli(None, "images", "--help")
    assert code == 0 and out.startswith("Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]")


def test_no_daemon(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/none.sock"
    out, err = io.StringIO(), io.StringIO()
    code = run(["-H", host, "images"], Session("", out=out, err=err), environ={})
    assert (code, err.getvalue()) == (
        1, f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?\n")
