"""``features``: what this runtime supports, in the JSON ``runc features`` prints (the
runtime-spec's features document, 4-space indented), with dockyard-runtime's values:

* hooks: all six; namespaces: all but ``time``; capabilities: the ones it knows by name;
* mountOptions: runc's list less the recursive attributes (``rro``, ``rnosuid``, ...) and
  ``tmpcopyup``, which it refuses;
* cgroup: v1 and v2 (cgroupfs only: ``--systemd-cgroup`` is ignored, so systemd: false);
* seccomp: the actions, operators and architectures ``seccomp.py`` accepts (no
  ``SCMP_ACT_NOTIFY``), and libseccomp's version as runc annotates it;
* apparmor and selinux: not enabled.
"""

from __future__ import annotations

OCI_VERSION_MIN = "1.0.0"
OCI_VERSION_MAX = "1.1.0"
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")
NAMESPACES = ("cgroup", "ipc", "mount", "network", "pid", "user", "uts")


def features() -> dict[str, object]:
    """The features document (its field order is runc's)."""
    from dockyard import __version__
    from dockyard.runtime.capabilities import NAMES
    from dockyard.runtime.mounts import FLAG_OPTIONS, PROPAGATION

    annotations = {"org.dockyard.runtime.version": __version__}
    seccomp, version = _seccomp()
    if version:
        annotations["io.github.seccomp.libseccomp.version"] = version
    linux: dict[str, object] = {
        "namespaces": list(NAMESPACES),
        "capabilities": list(NAMES),
        "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
    }
    if seccomp:
        linux["seccomp"] = seccomp
    linux["apparmor"] = {"enabled": False}
    linux["selinux"] = {"enabled": False}
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": list(HOOKS),
        "mountOptions": sorted({*FLAG_OPTIONS, *PROPAGATION}),
        "linux": linux,
        "annotations": {key: annotations[key] for key in sorted(annotations)},
    }


def _seccomp() -> tuple[dict[str, object], str]:
    """The seccomp section and libseccomp's version ("" and {} without libseccomp)."""
    from dockyard.errors import Unsupported

    try:
        from dockyard.runtime import seccomp
        from dockyard.sys.libseccomp import LibSeccomp

        major, minor, micro = LibSeccomp().version()
    except (Unsupported, OSError):
        return {}, ""
    section = {
        "enabled": True,
        "actions": sorted(seccomp.ACTIONS),
        "operators": sorted(seccomp.OPERATORS),
        "archs": sorted(seccomp.ARCHITECTURES),
    }
    return section, f"{major}.{minor}.{micro}"


def render() -> str:
    """Go's json.Encoder with SetIndent("", "    "): indented, newline-terminated."""
    from dockyard.runtime.jsontext import dumps

    return dumps(features(), "    ") + "\n"
