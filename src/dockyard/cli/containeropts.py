"""The container flags of ``run`` and ``create`` and the create request they make.

A port of the docker CLI 28's ``containerOptions`` (cli/command/container/opts.go): the same
flags and help, and :func:`create_body` builds the JSON body of ``POST /containers/create``
with the keys, order, nulls and empty values the Go client sends (api-traces/run_*.txt), so a
daemon cannot tell the two clients apart. Bad values fail as docker's do: a flag's value with
pflag's ``invalid argument`` text (exit 125, with usage), a combination with
``dockyard: <error>`` and a hint (exit 125).
"""

from __future__ import annotations

import os

from dockyard.cli import optvalues
from dockyard.cli.flags import Command, Flag, Parsed, UsageError
from dockyard.cli.session import StatusError
from dockyard.client import wirejson

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

F = Flag
CONTAINER_FLAGS = (
    F("add-host", "", "list", "Add a custom host-to-IP mapping (host:ip)"),
    F("attach", "a", "list", "Attach to STDIN, STDOUT or STDERR"),
    F("cap-add", "", "list", "Add Linux capabilities"),
    F("cap-drop", "", "list", "Drop Linux capabilities"),
    F("cgroup-parent", "", "string", "Optional parent cgroup for the container"),
    F("cgroupns", "", "string", "Cgroup namespace to use (host|private)"),
    F("cidfile", "", "string", "Write the container ID to the file"),
    F("cpu-period", "", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    F("cpu-quota", "", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    F("cpu-shares", "c", "int", "CPU shares (relative weight)"),
    F("cpus", "", "string", "Number of CPUs", metavar="decimal"),
    F("cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"),
    F("cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"),
    F("device", "", "list", "Add a host device to the container"),
    F("dns", "", "list", "Set custom DNS servers"),
    F("dns-option", "", "list", "Set DNS options"),
    F("dns-search", "", "list", "Set custom DNS search domains"),
    F("domainname", "", "string", "Container NIS domain name"),
    F("entrypoint", "", "string", "Overwrite the default ENTRYPOINT of the image"),
    F("env", "e", "list", "Set environment variables"),
    F("env-file", "", "list", "Read in a file of environment variables"),
    F("expose", "", "list", "Expose a port or a range of ports"),
    F("group-add", "", "list", "Add additional groups to join"),
    F("health-cmd", "", "string", "Command to run to check health"),
    F("health-interval", "", "string", "Time between running the check (ms|s|m|h) "
      "(default 0s)", metavar="duration"),
    F("health-retries", "", "int", "Consecutive failures needed to report unhealthy"),
    F("health-start-interval", "", "string", "Time between running the check during the "
      "start period (ms|s|m|h) (default 0s)", metavar="duration"),
    F("health-start-period", "", "string", "Start period for the container to initialize "
      "before starting health-retries countdown (ms|s|m|h) (default 0s)", metavar="duration"),
    F("health-timeout", "", "string", "Maximum time to allow one check to run (ms|s|m|h) "
      "(default 0s)", metavar="duration"),
    F("hostname", "h", "string", "Container host name"),
    F("init", "", help="Run an init inside the container that forwards signals and reaps "
      "processes"),
    F("interactive", "i", help="Keep STDIN open even if not attached"),
    F("ip", "", "string", "IPv4 address (e.g., 172.30.100.104)"),
    F("ipc", "", "string", "IPC mode to use"),
    F("label", "l", "list", "Set meta data on a container"),
    F("label-file", "", "list", "Read in a line delimited file of labels"),
    F("log-driver", "", "string", "Logging driver for the container"),
    F("log-opt", "", "list", "Log driver options"),
    F("mac-address", "", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    F("memory", "m", "string", "Memory limit", metavar="bytes"),
    F("memory-reservation", "", "string", "Memory soft limit", metavar="bytes"),
    F("memory-swap", "", "string", "Swap limit equal to memory plus swap: '-1' to enable "
      "unlimited swap", metavar="bytes"),
    F("memory-swappiness", "", "int", "Tune container memory swappiness (0 to 100)",
      default=-1),
    F("mount", "", "list", "Attach a filesystem mount to the container", metavar="mount"),
    F("name", "", "string", "Assign a name to the container"),
    F("network", "", "string", "Connect a container to a network", metavar="network"),
    F("network-alias", "", "list", "Add network-scoped alias for the container"),
    F("no-healthcheck", "", help="Disable any container-specified HEALTHCHECK"),
    F("oom-kill-disable", "", help="Disable OOM Killer"),
    F("oom-score-adj", "", "int", "Tune host's OOM preferences (-1000 to 1000)"),
    F("pid", "", "string", "PID namespace to use"),
    F("pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"),
    F("platform", "", "string", "Set platform if server is multi-platform capable"),
    F("privileged", "", help="Give extended privileges to this container"),
    F("publish", "p", "list", "Publish a container's port(s) to the host"),
    F("publish-all", "P", help="Publish all exposed ports to random ports"),
    F("pull", "", "string", 'Pull image before running ("always", "missing", "never")',
      default="missing"),
    F("quiet", "q", help="Suppress the pull output"),
    F("read-only", "", help="Mount the container's root filesystem as read only"),
    F("restart", "", "string", "Restart policy to apply when a container exits", default="no"),
    F("rm", "", help="Automatically remove the container and its associated anonymous "
      "volumes when it exits"),
    F("runtime", "", "string", "Runtime to use for this container"),
    F("security-opt", "", "list", "Security Options"),
    F("shm-size", "", "string", "Size of /dev/shm", metavar="bytes"),
    F("stop-signal", "", "string", "Signal to stop the container"),
    F("stop-timeout", "", "int", "Timeout (in seconds) to stop a container"),
    F("sysctl", "", "list", "Sysctl options", metavar="map"),
    F("tmpfs", "", "list", "Mount a tmpfs directory"),
    F("tty", "t", help="Allocate a pseudo-TTY"),
    F("ulimit", "", "list", "Ulimit options", metavar="ulimit"),
    F("user", "u", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
    F("userns", "", "string", "User namespace to use"),
    F("uts", "", "string", "UTS namespace to use"),
    F("volume", "v", "list", "Bind mount a volume"),
    F("volumes-from", "", "list", "Mount volumes from the specified container(s)"),
    F("workdir", "w", "string", "Working directory inside the container"),
)
# hidden aliases, as pflag's MarkHidden keeps them: --net, --net-alias, --dns-opt
ALIASES = {"net": "network", "net_alias": "network_alias", "dns_opt": "dns_option"}
HIDDEN = (F("net", "", "string"), F("net-alias", "", "list"), F("dns-opt", "", "list"))


def flag_error(command: Command, flag: Flag, value: str, message: str) -> UsageError:
    """pflag's error for a value its Set refused (exit status 125, with the usage)."""
    name = f"-{flag.short}, --{flag.long}" if flag.short else f"--{flag.long}"
    return UsageError(f'invalid argument "{value}" for "{name}" flag: {message}\n\nUsage:  '
                      f"{command.use_line()}\n\nRun '{command.command_path} --help' for more "
                      "information", 125)


class Values:
    """Typed access to the parsed flags, turning a refused value into docker's error."""

    def __init__(self, command: Command, parsed: Parsed) -> None:
        self.command = command
        self.parsed = parsed
        for alias, name in ALIASES.items():  # a hidden alias feeds the visible flag
            value = parsed.values.get(alias)
            if isinstance(value, list):
                parsed.strings(name).extend(value)
            elif value:
                parsed.values[name] = value
            if alias in parsed.changed:
                parsed.changed.add(name)

    def flag(self, name: str) -> bool:
        return self.parsed.flag(name)

    def string(self, name: str) -> str:
        return self.parsed.string(name)

    def strings(self, name: str) -> list[str]:
        return self.parsed.strings(name)

    def integer(self, name: str) -> int:
        value = self.parsed.values[name]
        assert isinstance(value, int)
        return value

    def changed(self, name: str) -> bool:
        return name in self.parsed.changed

    def convert(self, name: str, parse: Callable[[str], Any], default: Any = 0) -> Any:
        """The last value of a string flag through ``parse`` (``default`` when unset)."""
        text = self.parsed.string(name)
        if not text:
            return default
        return self.check(name, text, parse)

    def each(self, name: str, parse: Callable[[str], Any]) -> list[Any]:
        return [self.check(name, text, parse) for text in self.parsed.strings(name)]

    def check(self, name: str, text: str, parse: Callable[[str], Any]) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            flag = next(f for f in self.command.flags if f.dest == name)
            raise flag_error(self.command, flag, text, str(exc)) from exc


def go_map(value: dict[str, Any]) -> dict[str, Any]:
    """A map as Go's encoding/json writes it: keys in sorted order."""
    return dict(sorted(value.items()))


def with_help(message: str, command: str) -> StatusError:
    """The docker CLI's withHelp: ``dockyard: <error>`` and a hint, exit status 125."""
    return StatusError(f"dockyard: {message}\n\nRun 'dockyard {command} --help' for more "
                       "information", 125)


def _volumes(values: Values) -> tuple[list[str] | None, dict[str, dict[str, object]]]:
    """``-v``: a spec with a source is a bind (relative ``./x`` made absolute); a bare path is
    an anonymous volume in Config.Volumes."""
    binds: list[str] = []
    volumes: dict[str, dict[str, object]] = {}
    for spec in values.strings("volume"):
        host, colon, target = spec.partition(":")
        if not colon:
            volumes[spec] = {}
            continue
        if not host.startswith("/") and host.startswith("."):
            host = os.path.abspath(host)
        binds.append(f"{host}:{target}")
    return binds or None, volumes


def _security_opts(values: Values) -> tuple[list[str] | None, list[str] | None,
                                            list[str] | None]:
    """parseSecurityOpts + parseSystemPaths: a seccomp profile file is sent as its JSON."""
    opts: list[str] = []
    masked: list[str] | None = None
    readonly: list[str] | None = None
    for opt in values.strings("security_opt"):
        key, eq, value = opt.partition("=")
        if not eq and key != "no-new-privileges":
            key, eq, value = opt.partition(":")
        if (not eq or not value) and key != "no-new-privileges":
            raise with_help(f'Invalid --security-opt: "{opt}"', values.command.path)
        if opt == "systempaths=unconfined":
            masked, readonly = [], []
            continue
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            opts.append("seccomp=" + _seccomp_profile(value, values.command.path))
        else:
            opts.append(opt)
    return opts or None, masked, readonly


def _seccomp_profile(path: str, command: str) -> str:
    try:
        with open(path, "rb") as f:
            profile = wirejson.loads(f.read())
    except OSError as exc:
        raise with_help(f"opening seccomp profile ({path}) failed: open {path}: "
                        f"{(exc.strerror or str(exc)).lower()}", command) from exc
    except ValueError as exc:
        raise with_help(f"compacting json for seccomp profile ({path}) failed: {exc}",
                        command) from exc
    return wirejson.dumps(profile, ensure_ascii=False)


def _healthcheck(values: Values) -> dict[str, object] | None:
    durations = {key: values.convert(f"health_{dest}", optvalues.duration_ns)
                 for key, dest in (("Interval", "interval"), ("Timeout", "timeout"),
                                   ("StartPeriod", "start_period"),
                                   ("StartInterval", "start_interval"))}
    retries = values.integer("health_retries")
    cmd = values.string("health_cmd")
    have = bool(cmd) or retries != 0 or any(durations.values())
    if values.flag("no_healthcheck"):
        if have:
            raise with_help("--no-healthcheck conflicts with --health-* options",
                            values.command.path)
        return {"Test": ["NONE"]}
    if not have:
        return None
    for key, name in (("Interval", "interval"), ("Timeout", "timeout"),
                      ("StartPeriod", "start-period"), ("StartInterval", "start-interval")):
        if durations[key] < 0:
            raise with_help(f"--health-{name} cannot be negative", values.command.path)
    if retries < 0:
        raise with_help("--health-retries cannot be negative", values.command.path)
    health: dict[str, object] = {"Test": ["CMD-SHELL", cmd]} if cmd else {}
    health.update({k: v for k, v in durations.items() if v})
    if retries:
        health["Retries"] = retries
    return health


def _network(values: Values) -> tuple[str, dict[str, object]]:
    """NetworkMode and NetworkingConfig.EndpointsConfig as parseNetworkOpts builds them."""
    target = values.string("network")
    aliases = values.strings("network_alias")
    ipv4, mac = values.string("ip"), values.string("mac_address")
    if target and "=" in target:
        fields = dict(f.partition("=")[::2] for f in target.split(","))
        target = fields.get("name", "")
        aliases = aliases or [v for k, v in fields.items() if k == "alias"]
    mode = target or "default"
    user_defined = mode not in ("default", "bridge", "host", "none") and \
        not mode.startswith("container:")
    if aliases and not user_defined:
        raise with_help("network-scoped aliases are only supported for user-defined networks",
                        values.command.path)
    endpoint = {"IPAMConfig": {"IPv4Address": ipv4} if ipv4 else None, "Links": None,
                "Aliases": aliases or None, "MacAddress": mac, "DriverOpts": None,
                "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "",
                "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "DNSNames": None}
    if target and not (aliases or ipv4 or mac):
        return mode, {}  # one network without options: no endpoint config (backward compat)
    return mode, {mode: endpoint}


def _ports(values: Values) -> tuple[dict[str, dict[str, object]],
                                    dict[str, list[dict[str, str]]]]:
    specs = []
    for text in values.strings("publish"):
        publish = text
        if "=" in publish:  # the long syntax: published=8080,target=80,protocol=udp
            params = {"protocol": "tcp"}
            for param in text.split(","):
                key, eq, value = param.partition("=")
                if not eq or not key:
                    raise with_help(f"invalid publish opts format (should be name=value but "
                                    f"got '{param}')", values.command.path)
                params[key] = value
            publish = f"{params.get('published', '')}:{params.get('target', '')}/" \
                      f"{params['protocol']}"
        specs.append(publish)
    try:
        exposed, bindings = optvalues.port_specs(specs)
    except ValueError as exc:
        raise with_help(str(exc), values.command.path) from exc
    for expose in values.strings("expose"):
        port, _, proto = expose.partition("/")
        try:
            low, high = optvalues.port_range(port, "containerPort", port)
        except ValueError as exc:
            raise with_help(f"invalid range format for --expose: {expose}, error: {exc}",
                            values.command.path) from exc
        for number in range(low, high + 1):
            exposed.setdefault(f"{number}/{proto or 'tcp'}", {})
    return exposed, bindings


def _kv_file(values: Values, path: str, env: bool, environ: dict[str, str]) -> list[str]:
    try:
        return optvalues.read_kv_file(path, env, environ)
    except ValueError as exc:
        raise with_help(str(exc), values.command.path) from exc


def _env(values: Values, environ: dict[str, str]) -> list[str] | None:
    env = []
    for path in values.strings("env_file"):
        env += _kv_file(values, path, True, environ)
    env += values.each("env", lambda text: optvalues.env_value(text, environ))
    return env or None


def _labels(values: Values) -> dict[str, str]:
    lines = []
    for path in values.strings("label_file"):
        lines += _kv_file(values, path, False, {})
    lines += values.each("label", optvalues.label_value)
    return {k: v for k, _, v in (line.partition("=") for line in lines)}


def _capabilities(names: list[str]) -> list[str] | None:
    """The Go client's normalizeCapabilities: upper case with ``CAP_``, ``ALL`` as is."""
    result = []
    for name in names:
        upper = name.strip().upper()
        result.append(upper if upper == "ALL" or upper.startswith("CAP_") else f"CAP_{upper}")
    return result or None


def _check_modes(values: Values) -> None:
    for flag, what, ok in (
            ("pid", "PID", lambda v: v in ("", "host") or v.startswith("container:")),
            ("uts", "UTS", lambda v: v in ("", "host")),
            ("userns", "USER", lambda v: v in ("", "host")),
            ("cgroupns", "CGROUP", lambda v: v in ("", "host", "private"))):
        if not ok(values.string(flag)):
            raise with_help(f"--{flag}: invalid {what} mode", values.command.path)


def config_body(values: Values, image: str, args: list[str], environ: dict[str, str],
                console: tuple[int, int]) -> dict[str, Any]:
    """The Config part of the create body (HostConfig and NetworkingConfig inside it)."""
    attach = [a.lower() for a in values.strings("attach")]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise flag_error(values.command, next(f for f in values.command.flags
                                                  if f.long == "attach"),
                             stream, "valid streams are STDIN, STDOUT and STDERR")
    stdin = values.flag("interactive") or "stdin" in attach
    out = not attach or "stdout" in attach
    err = not attach or "stderr" in attach
    swappiness = values.integer("memory_swappiness")
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise with_help(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100",
                        values.command.path)
    _check_modes(values)
    binds, volumes = _volumes(values)
    exposed, bindings = _ports(values)
    entrypoint = values.string("entrypoint")
    config: dict[str, Any] = {
        "Hostname": values.string("hostname"), "Domainname": values.string("domainname"),
        "User": values.string("user"), "AttachStdin": stdin, "AttachStdout": out,
        "AttachStderr": err}
    if exposed:
        config["ExposedPorts"] = go_map(exposed)
    config.update({
        "Tty": values.flag("tty"), "OpenStdin": values.flag("interactive"),
        "StdinOnce": values.flag("interactive") and stdin, "Env": _env(values, environ),
        "Cmd": args or None})
    health = _healthcheck(values)
    if health is not None:
        config["Healthcheck"] = health
    config.update({
        "Image": image, "Volumes": go_map(volumes), "WorkingDir": values.string("workdir"),
        "Entrypoint": [entrypoint] if entrypoint else [""] if values.changed("entrypoint")
        else None})
    if values.string("mac_address"):
        config["MacAddress"] = values.string("mac_address")
    config.update({"OnBuild": None, "Labels": go_map(_labels(values))})
    if values.string("stop_signal"):
        config["StopSignal"] = values.string("stop_signal")
    if values.changed("stop_timeout"):
        config["StopTimeout"] = values.integer("stop_timeout")
    mode, endpoints = _network(values)
    config["HostConfig"] = host_config(values, binds, bindings, mode, console)
    config["NetworkingConfig"] = {"EndpointsConfig": go_map(endpoints)}
    return config


def host_config(values: Values, binds: list[str] | None,
                bindings: dict[str, list[dict[str, str]]], network_mode: str,
                console: tuple[int, int]) -> dict[str, Any]:
    try:
        restart = optvalues.restart_policy(values.string("restart"))
    except ValueError as exc:
        raise with_help(str(exc), values.command.path) from exc
    if values.flag("rm") and restart["Name"] not in ("", "no"):
        raise with_help("conflicting options: cannot specify both --restart and --rm",
                        values.command.path)
    log_opts = values.strings("log_opt")
    if values.string("log_driver") == "none" and log_opts:
        raise with_help("invalid logging opts for driver none", values.command.path)
    security, masked, readonly = _security_opts(values)
    host: dict[str, Any] = {
        "Binds": binds, "ContainerIDFile": values.string("cidfile"),
        "LogConfig": {"Type": values.string("log_driver"),
                      "Config": go_map({k: v for k, _, v in (o.partition("=")
                                                              for o in log_opts)})},
        "NetworkMode": network_mode, "PortBindings": go_map(bindings), "RestartPolicy": restart,
        "AutoRemove": values.flag("rm"), "VolumeDriver": "",
        "VolumesFrom": values.strings("volumes_from") or None, "ConsoleSize": list(console),
        "CapAdd": _capabilities(values.strings("cap_add")),
        "CapDrop": _capabilities(values.strings("cap_drop")),
        "CgroupnsMode": values.string("cgroupns"),
        "Dns": values.each("dns", optvalues.ip_value), "DnsOptions": values.strings("dns_option"),
        "DnsSearch": values.strings("dns_search"),
        "ExtraHosts": values.each("add_host", optvalues.host_value) or None,
        "GroupAdd": values.strings("group_add") or None, "IpcMode": values.string("ipc"),
        "Cgroup": "", "Links": None, "OomScoreAdj": values.integer("oom_score_adj"),
        "PidMode": values.string("pid"), "Privileged": values.flag("privileged"),
        "PublishAllPorts": values.flag("publish_all"),
        "ReadonlyRootfs": values.flag("read_only"), "SecurityOpt": security}
    tmpfs = {k: v for k, _, v in (t.partition(":") for t in values.strings("tmpfs"))}
    if tmpfs:
        host["Tmpfs"] = go_map(tmpfs)
    host.update({"UTSMode": values.string("uts"), "UsernsMode": values.string("userns"),
                 "ShmSize": values.convert("shm_size", optvalues.ram_in_bytes)})
    sysctls = {k: v for k, _, v in (s.partition("=") for s in values.strings("sysctl"))}
    if sysctls:
        host["Sysctls"] = go_map(sysctls)
    if values.string("runtime"):
        host["Runtime"] = values.string("runtime")
    host["Isolation"] = ""
    host.update(_resources(values))
    mounts = values.each("mount", optvalues.mount)
    if mounts:
        host["Mounts"] = mounts
    host.update({"MaskedPaths": masked, "ReadonlyPaths": readonly})
    if values.changed("init"):
        host["Init"] = values.flag("init")
    return host


def _resources(values: Values) -> dict[str, Any]:
    return {
        "CpuShares": values.integer("cpu_shares"),
        "Memory": values.convert("memory", optvalues.ram_in_bytes),
        "NanoCpus": values.convert("cpus", optvalues.nano_cpus),
        "CgroupParent": values.string("cgroup_parent"), "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
        "CpuPeriod": values.integer("cpu_period"), "CpuQuota": values.integer("cpu_quota"),
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": values.string("cpuset_cpus"), "CpusetMems": values.string("cpuset_mems"),
        "Devices": values.each("device", optvalues.device), "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": values.convert("memory_reservation", optvalues.ram_in_bytes),
        "MemorySwap": values.convert("memory_swap", optvalues.mem_swap),
        "MemorySwappiness": values.integer("memory_swappiness"),
        "OomKillDisable": values.flag("oom_kill_disable"),
        "PidsLimit": values.integer("pids_limit"),
        "Ulimits": list({u["Name"]: u for u in values.each("ulimit", optvalues.ulimit)}
                        .values()),
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0}
