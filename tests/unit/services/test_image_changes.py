"""``--change`` instructions applied to a container config, as dockerd's BuildFromConfig."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci.config import ContainerConfig, Healthcheck
from dockyard.services.image_changes import apply_changes, exposed_ports


def test_no_changes_is_the_empty_config() -> None:
    assert apply_changes([]) == ContainerConfig()
    with pytest.raises(InvalidArgument, match="file with no instructions"):
        apply_changes(["# a comment"])  # dockerd's parser refuses it too


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
        "USER $A",
        "ONBUILD RUN echo",
        "HEALTHCHECK --interval=5s --retries=3 CMD curl -f x",
    ])
    assert config == ContainerConfig(
        user="1",
        exposed_ports=("80/tcp", "8000/udp", "8001/udp"),
        env=("A=1", "B=x y", "C=1-x y"),
        entrypoint=("/bin/tini", "--"),
        cmd=("/bin/sh", "-c", "echo hi"),
        volumes=("/data", "/x"),
        working_dir="/app/sub",
        labels={"a": "b", "c d": "e"},
        healthcheck=Healthcheck(test=("CMD-SHELL", "curl -f x"), interval=5_000_000_000,
                                retries=3),
        on_build=("RUN echo",),
    )


def test_entrypoint_clears_a_cmd_the_changes_did_not_set() -> None:
    base = ContainerConfig(cmd=("sh",))
    assert apply_changes(["ENTRYPOINT top"], base).cmd is None
    both = apply_changes(['CMD ["-b"]', 'ENTRYPOINT ["top"]'], base)
    assert (both.entrypoint, both.cmd) == (("top",), ("-b",))


def test_exec_and_shell_forms() -> None:
    assert apply_changes(['CMD ["a", "b c"]']).cmd == ("a", "b c")
    assert apply_changes(["CMD []"]).cmd == ()
    assert apply_changes(["CMD [not json"]).cmd == ("/bin/sh", "-c", "[not json")
    shell = ContainerConfig(shell=("/bin/bash", "-e", "-c"))
    assert apply_changes(["CMD x"], shell).cmd == ("/bin/bash", "-e", "-c", "x")


def test_env_replaces_in_place_and_expands_with_what_came_before() -> None:
    config = apply_changes(["ENV PATH=/bin", "ENV Q=1", "ENV PATH=$PATH:/usr/bin X=${UNSET:-d}"])
    assert config.env == ("PATH=/bin:/usr/bin", "Q=1", "X=d")


def test_expose_splits_an_expanded_variable() -> None:
    assert apply_changes(['ENV P="80 81/udp"', "EXPOSE $P"]).exposed_ports == (
        "80/tcp", "81/udp")


def test_label_legacy_form_keeps_the_rest_of_the_line() -> None:
    assert apply_changes(["LABEL k some value"]).labels == {"k": "some value"}


def test_healthcheck_forms() -> None:
    assert apply_changes(["HEALTHCHECK NONE"]).healthcheck == Healthcheck(test=("NONE",))
    exec_form = apply_changes(['HEALTHCHECK --timeout=1m CMD ["true"]']).healthcheck
    assert exec_form == Healthcheck(test=("CMD", "true"), timeout=60_000_000_000)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("RUN echo", "run is not a valid change command"),
        ("STOPSIGNAL TERM", "stopsignal is not a valid change command"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV =1", "ENV names can not be blank"),
        ("EXPOSE http", "Invalid containerPort: http"),
        ("EXPOSE 80/foo", "invalid proto: foo"),
        ("EXPOSE 90-80", "Invalid range format for --expose: 90-80, error: bad range"),
        ("ENV A=${B", "missing '}'"),
        ("USER", "USER requires exactly one argument"),
    ],
)
def test_errors_name_the_change(change: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_changes([change])
    assert str(caught.value).startswith(f'invalid change "{change}": ')
    assert reason in str(caught.value)


def test_all_changes_are_checked_before_any_applies() -> None:
    with pytest.raises(InvalidArgument, match="run is not a valid change command"):
        apply_changes(["ENV A=1", "RUN x"])


def test_port_specs() -> None:
    assert exposed_ports("80") == ["80/tcp"]
    assert exposed_ports("53/UDP") == ["53/udp"]
    assert exposed_ports("1-3/sctp") == ["1/sctp", "2/sctp", "3/sctp"]
