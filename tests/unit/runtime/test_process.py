"""The container process's settings that are decisions: user lookup, env, PATH, sysctl,
namespaces, and the messages of the create handshake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemCallError, Unsupported
from dockyard.runtime.channel import Channel, rebuild
from dockyard.runtime.namespaces import Plan, direct, direct_flags, enter, exec_plan, plan
from dockyard.runtime.ops.exec import Overrides, process_from
from dockyard.runtime.process import ExecUser, check_env, check_sysctl, look_path, lookup_user
from dockyard.runtime.spec import Capabilities, IdMapping, Namespace, Process, User
from dockyard.sys.flags import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)
from dockyard.sys.recording import Call, RecordingSyscalls

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"


def test_user_lookup_takes_home_from_passwd_and_groups_as_given() -> None:
    assert lookup_user(1000, 100, (10, 10, 5), PASSWD, "") == \
        ExecUser(uid=1000, gid=100, groups=(10, 5), home="/home/user")
    assert lookup_user(4242, 4242, (), PASSWD, "") == ExecUser(uid=4242, gid=4242, home="/")


@pytest.mark.parametrize(("uid", "gid", "extra"), [(2**31, 0, ()), (0, 2**32 - 1, ()),
                                                  (0, 0, (2**31,))])
def test_ids_out_of_runc_range_are_refused(uid: int, gid: int, extra: tuple[int, ...]) -> None:
    with pytest.raises(InvalidArgument, match="unable to setup user"):
        lookup_user(uid, gid, extra, PASSWD, "")


def test_env_checks_follow_runc() -> None:
    assert check_env(("A=1", "B=", "A=2", "C=x=y")) == {"A": "2", "B": "", "C": "x=y"}
    with pytest.raises(InvalidArgument, match="missing '='"):
        check_env(("NOVALUE",))
    with pytest.raises(InvalidArgument, match="name can't be empty"):
        check_env(("=1",))


def test_look_path_searches_path_in_order(tmp_path: Path) -> None:
    for directory in ("a", "b"):
        (tmp_path / directory).mkdir()
    (tmp_path / "a/tool").write_text("")  # not executable: skipped
    (tmp_path / "b/tool").write_text("")
    os.chmod(tmp_path / "b/tool", 0o755)
    env = {"PATH": f"{tmp_path}/a:{tmp_path}/b"}
    assert look_path("tool", env) == f"{tmp_path}/b/tool"
    assert look_path(f"{tmp_path}/b/tool", env) == f"{tmp_path}/b/tool"
    with pytest.raises(NotFound) as caught:
        look_path("nosuchbin", env)
    assert str(caught.value) == 'exec: "nosuchbin": executable file not found in $PATH'
    with pytest.raises(NotFound, match="no such file"):
        look_path("/nope/x", env)


@pytest.mark.parametrize(("name", "namespaces", "ok"), [
    ("net.ipv4.ip_forward", {"network": ""}, True),
    ("net.ipv4.ip_forward", {}, False),
    ("kernel.shmmax", {"ipc": ""}, True),
    ("fs.mqueue.msg_max", {}, False),
    ("kernel.domainname", {"uts": ""}, True),
    ("kernel.hostname", {"uts": ""}, False),
    ("vm.swappiness", {"network": "", "ipc": "", "uts": ""}, False),
])  # fmt: skip
def test_sysctl_must_be_namespaced(name: str, namespaces: dict[str, str], ok: bool) -> None:
    if ok:
        check_sysctl(name, namespaces)
    else:
        with pytest.raises(InvalidArgument, match="sysctl"):
            check_sysctl(name, namespaces)


def test_namespace_plan_joins_paths_in_runc_order_and_unshares_the_rest() -> None:
    result = plan((Namespace(type="pid"), Namespace(type="network", path="/run/netns/x"),
                   Namespace(type="ipc"), Namespace(type="mount")))
    assert result == Plan(joins=(("network", "/run/netns/x"),),
                          new=CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS)
    assert result.has("network") and result.has("pid") and not result.has("uts")
    with pytest.raises(Unsupported, match="time namespaces"):
        plan((Namespace(type="time"),))


def test_a_new_user_namespace_carries_its_id_maps() -> None:
    uids = (IdMapping(container_id=0, host_id=100000, size=65536),
            IdMapping(container_id=65536, host_id=5000, size=1))
    gids = (IdMapping(container_id=0, host_id=200000, size=10),)
    result = plan((Namespace(type="user"), Namespace(type="pid")), uids, gids)
    assert result == Plan(new=CLONE_NEWUSER | CLONE_NEWPID,
                          uid_map="0 100000 65536\n65536 5000 1\n", gid_map="0 200000 10\n")
    joined = plan((Namespace(type="user", path="/proc/7/ns/user"), Namespace(type="mount")),
                  uids, gids)
    assert joined == Plan(joins=(("user", "/proc/7/ns/user"),), new=CLONE_NEWNS)


def test_enter_unshares_a_new_user_namespace_alone_and_first() -> None:
    sys = RecordingSyscalls()
    asked: list[list[str]] = []

    def map_ids() -> None:
        asked.append([call.name for call in sys.calls])
        raise Conflict("stop here: setresuid(0) would really run")

    with pytest.raises(Conflict):
        enter(Plan(new=CLONE_NEWUSER | CLONE_NEWNS, uid_map="0 1 1\n"), sys, map_ids)
    assert sys.calls == [Call("unshare", (CLONE_NEWUSER,))]
    assert asked == [["unshare"]]


def test_the_init_is_cloned_directly_without_a_user_namespace_or_a_pid_join() -> None:
    docker = plan((Namespace(type="mount"), Namespace(type="uts"), Namespace(type="pid"),
                   Namespace(type="ipc"), Namespace(type="network", path="/run/netns/x"),
                   Namespace(type="cgroup")))
    assert direct(docker)
    # the cgroup namespace is unshared by the init once it is in every hierarchy
    assert direct_flags(docker) == CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWIPC
    assert direct_flags(docker) | CLONE_NEWCGROUP == docker.new
    assert not direct(plan((Namespace(type="user"), Namespace(type="mount"))))
    assert not direct(plan((Namespace(type="user", path="/proc/7/ns/user"),)))
    assert not direct(plan((Namespace(type="pid", path="/proc/7/ns/pid"),)))
    assert direct(plan(()))


def test_exec_joins_every_namespace_of_the_init() -> None:
    assert exec_plan((Namespace(type="mount"), Namespace(type="pid")), 42) == Plan(
        joins=(("pid", "/proc/42/ns/pid"), ("mount", "/proc/42/ns/mnt")))


def test_enter_opens_every_path_before_joining(tmp_path: Path) -> None:
    (tmp_path / "net").write_text("")
    (tmp_path / "mnt").write_text("")
    sys = RecordingSyscalls()
    enter(Plan(joins=(("network", str(tmp_path / "net")), ("mount", str(tmp_path / "mnt"))),
               new=CLONE_NEWPID), sys)
    assert [call.name for call in sys.calls] == ["setns", "setns", "unshare"]
    assert sys.calls[0].args[1] == CLONE_NEWNET and sys.calls[1].args[1] == CLONE_NEWNS
    assert sys.calls[2] == Call("unshare", (CLONE_NEWPID,))
    with pytest.raises(InvalidArgument, match="network namespace path /nope"):
        enter(Plan(joins=(("network", "/nope"),)), RecordingSyscalls())


def test_exec_overrides_the_bundle_process_as_runc_does() -> None:
    base = Process(args=("sh",), cwd="/", env=("PATH=/bin",), user=User(uid=0, gid=0),
                   capabilities=Capabilities(bounding=("CAP_KILL",)), terminal=True)
    process = process_from(base, Overrides(args=("id",), cwd="/tmp", env=("A=1",),
                                           user="1000:1000", additional_gids=(10,),
                                           caps=("CAP_CHOWN",)))
    assert process == base.replace(
        args=("id",), cwd="/tmp", env=("PATH=/bin", "A=1"), terminal=False,
        user=User(uid=1000, gid=1000, additional_gids=(10,)),
        capabilities=Capabilities(bounding=("CAP_KILL", "CAP_CHOWN"),
                                  effective=("CAP_CHOWN",), permitted=("CAP_CHOWN",),
                                  ambient=("CAP_CHOWN",)))
    with pytest.raises(InvalidArgument, match="--user"):
        process_from(base, Overrides(args=("id",), user="root"))


def test_channel_messages_and_errors_cross_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    try:
        sender, receiver = Channel(-1, write_fd), Channel(read_fd, -1)
        sender.send("ready")
        sender.send("pid", "42")
        assert receiver.expect("pid", "x") == "42"
        assert receiver.expect("ready", "x") == ""  # held while looking for "pid"
        sender.send_error(SystemCallError("mount", 19, "overlay on /x"))
        with pytest.raises(SystemCallError) as caught:
            receiver.expect("ready", "x")
        assert (caught.value.errno, caught.value.call) == (19, "mount")
        assert str(caught.value) == "mount overlay on /x: No such device"
        sender.send_error(NotFound("multi\nline"))
        with pytest.raises(NotFound, match="multi\nline"):
            receiver.expect("ready", "x")
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert str(rebuild("Bogus text")) == "text"
