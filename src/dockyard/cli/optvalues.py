"""Flag values of ``run`` and ``create`` parsed as the docker CLI parses them.

Each parser takes the text of one flag and returns the Engine API value, or raises
:class:`ValueError` with the text pflag puts after ``invalid argument "v" for "--flag" flag:``
(go-units sizes and ulimits, Go durations, rational CPUs, go-connections port specs, the
``--mount`` CSV, ``--device`` and restart policies). No value here touches the daemon.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing's import costs the CLI's start a few ms
if TYPE_CHECKING:
    from typing import Any

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION_UNITS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 10**6,
                   "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
ULIMITS = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                     "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: ``64m``, ``1.5g``, ``512MiB``, ``100`` (binary multiples)."""
    sep = max(text.rfind(c) for c in "01234567890. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{text}'")
    num, suffix = (text[:sep + 1], text[sep + 1:]) if text[sep] != " " else \
        (text[:sep], text[sep + 1:])
    try:
        size = float(num)
    except ValueError as exc:
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from exc
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lowered = suffix.lower()
    bad = ValueError(f"invalid suffix: '{lowered if len(suffix) <= 3 else suffix}'")
    if len(lowered) > 3:
        raise bad
    if lowered[0] == "b":
        if len(lowered) > 1:
            raise bad
        return int(size)
    if lowered[0] not in _BINARY or (len(lowered) == 2 and lowered[1] != "b") or \
            (len(lowered) == 3 and lowered[1:] != "ib"):
        raise bad
    return int(size * _BINARY[lowered[0]])


def mem_swap(text: str) -> int:
    """opts.MemSwapBytes: ``-1`` for unlimited swap, else a size."""
    return -1 if text == "-1" else ram_in_bytes(text)


def duration_ns(text: str) -> int:
    """Go's time.ParseDuration: ``1m30s``, ``1.5h``, ``300ms``, ``-2s``, ``0``."""
    error = ValueError(f'time: invalid duration "{text}"')
    rest, sign = text, 1
    if rest[:1] in "+-" and rest:
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise error
    total = 0
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        number, rest = rest[:i], rest[i:]
        j = 0
        while j < len(rest) and not (rest[j].isdigit() or rest[j] == "."):
            j += 1
        unit, rest = rest[:j], rest[j:]
        if not number or number == "." or unit not in _DURATION_UNITS:
            if unit and unit not in _DURATION_UNITS and number:
                raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
            raise error
        total += _scaled(number, _DURATION_UNITS[unit])
    return sign * total


def _scaled(number: str, scale: int) -> int:
    whole, _, fraction = number.partition(".")
    value = int(whole or "0") * scale
    if fraction:
        value += int(fraction) * scale // 10 ** len(fraction)
    return value


def nano_cpus(text: str) -> int:
    """opts.ParseCPUs: a decimal number of CPUs as nano CPUs (``1.5`` -> 1500000000)."""
    body = text[1:] if text[:1] in "+-" else text
    whole, dot, fraction = body.partition(".")
    if not (whole or fraction) or not (whole + fraction).isdigit() or (dot and not fraction
                                                                        and not whole):
        raise ValueError(f"failed to parse {text} as a rational number")
    if len(fraction.rstrip("0")) > 9:
        raise ValueError("value is too precise")
    nanos = int(whole or "0") * 10**9 + int((fraction + "0" * 9)[:9] or "0")
    return -nanos if text.startswith("-") else nanos


def ulimit(text: str) -> dict[str, object]:
    """go-units ParseUlimit: ``nofile=1024[:2048]`` -> {"Name","Hard","Soft"}."""
    name, eq, limits = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {limits}, can only have up to "
                         "two, `soft[:hard]`")
    try:
        soft = int(parts[0])
        hard = int(parts[1]) if len(parts) == 2 else soft
    except ValueError as exc:
        bad = next(p for p in parts if not p.lstrip("-").isdigit())
        raise ValueError(f'strconv.ParseInt: parsing "{bad}": invalid syntax') from exc
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: "
                         f"{soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def restart_policy(text: str) -> dict[str, object]:
    """opts.ParseRestartPolicy (the daemon checks the name)."""
    if not text:
        return {"Name": "", "MaximumRetryCount": 0}
    name, colon, count = text.partition(":")
    if colon and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError as exc:
            raise ValueError("invalid restart policy format: maximum retry count must be an "
                             "integer") from exc
    return {"Name": name, "MaximumRetryCount": retries}


def _abs_source(source: str) -> str:
    if not source.startswith("/") and source.startswith("."):
        return os.path.abspath(source)
    return source


def mount(text: str) -> dict[str, object]:
    """opts.MountOpt.Set for the mount types a Linux daemon takes (bind, volume, tmpfs)."""
    import csv

    fields = next(csv.reader([text]), [])
    spec: dict[str, object] = {"Type": "volume"}
    options: dict[str, dict[str, Any]] = {}
    for field in fields:
        key, eq, value = field.partition("=")
        _mount_field(spec, options, key.lower(), value if eq else None, field)
    if not spec.get("Type"):
        raise ValueError("type is required")
    if not spec.get("Target"):
        raise ValueError("target is required")
    for prefix, name in (("volume", "VolumeOptions"), ("bind", "BindOptions"),
                         ("tmpfs", "TmpfsOptions")):
        if name in options and spec["Type"] != prefix:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type "
                             f"'{spec['Type']}'")
    volume = options.get("VolumeOptions")
    if volume is not None:
        volume["Labels"] = dict(sorted(volume["Labels"].items()))
        if "Options" in volume["DriverConfig"]:
            volume["DriverConfig"]["Options"] = dict(sorted(volume["DriverConfig"]["Options"]
                                                             .items()))
    for name in ("BindOptions", "VolumeOptions", "TmpfsOptions"):
        if name in options:
            spec[name] = options[name]
    return spec


def _parse_bool(value: str, key: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def _mount_field(spec: dict[str, object], options: dict[str, dict[str, Any]], key: str,
                 value: str | None, field: str) -> None:
    if value is None:
        if key in ("readonly", "ro"):
            spec["ReadOnly"] = True
        elif key == "volume-nocopy":
            _volume(options)["NoCopy"] = True
        elif key == "bind-nonrecursive":
            options.setdefault("BindOptions", {})["NonRecursive"] = True
        else:
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        return
    if key == "type":
        spec["Type"] = value.lower()
    elif key in ("source", "src"):
        spec["Source"] = _abs_source(value)
    elif key in ("target", "dst", "destination"):
        spec["Target"] = value
    elif key in ("readonly", "ro"):
        spec["ReadOnly"] = _parse_bool(value, key)
    elif key == "bind-propagation":
        options.setdefault("BindOptions", {})["Propagation"] = value.lower()
    elif key.startswith("volume-"):
        _volume_field(_volume(options), key, value, field)
    elif key.startswith("tmpfs-"):
        _tmpfs_field(options.setdefault("TmpfsOptions", {}), key, value, field)
    elif key != "consistency":
        raise ValueError(f"unexpected key '{key}' in '{field}'")


def _volume(options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return options.setdefault("VolumeOptions", {"Labels": {}, "DriverConfig": {}})


def _volume_field(volume: dict[str, Any], key: str, value: str, field: str) -> None:
    name, _, item = value.partition("=")
    if key == "volume-nocopy":
        volume["NoCopy"] = _parse_bool(value, key)
    elif key == "volume-subpath":
        volume["Subpath"] = value
    elif key == "volume-label":
        if name:
            volume["Labels"][name] = item
    elif key == "volume-opt":
        if name:
            volume["DriverConfig"].setdefault("Options", {})[name] = item
    elif key == "volume-driver":
        volume["DriverConfig"]["Name"] = value
    else:
        raise ValueError(f"unexpected key '{key}' in '{field}'")


def _tmpfs_field(tmpfs: dict[str, Any], key: str, value: str, field: str) -> None:
    try:
        if key == "tmpfs-size":
            tmpfs["SizeBytes"] = ram_in_bytes(value)
        elif key == "tmpfs-mode":
            tmpfs["Mode"] = int(value, 8)
        else:
            raise KeyError(key)
    except ValueError as exc:
        raise ValueError(f"invalid value for {key}: {value}") from exc
    except KeyError as exc:
        raise ValueError(f"unexpected key '{key}' in '{field}'") from exc


def device(text: str) -> dict[str, str]:
    """``/dev/x[:/dev/y][:rwm]`` -> a DeviceMapping (validateLinuxPath + parseLinuxDevice)."""
    parts = text.split(":")
    if text.count(":") > 2 or not parts[0]:
        raise ValueError(f"bad format for path: {text}")
    source, target, mode = parts[0], "", "rwm"
    if len(parts) == 3:
        target, mode = parts[1], parts[2]
    elif len(parts) == 2:
        if _device_mode(parts[1]):
            mode = parts[1]
        else:
            target = parts[1]
    if not _device_mode(mode):
        raise ValueError(f"bad mode specified: {mode}")
    if target and not target.startswith("/"):
        raise ValueError(f"{target} is not an absolute path")
    return {"PathOnHost": source, "PathInContainer": target or source,
            "CgroupPermissions": mode}


def _device_mode(mode: str) -> bool:
    return bool(mode) and len(set(mode)) == len(mode) and set(mode) <= set("rwm")


def port_specs(specs: list[str]) -> tuple[dict[str, dict[str, object]],
                                          dict[str, list[dict[str, str]]]]:
    """nat.ParsePortSpecs: ``[ip:][hostPort:]containerPort[/proto]``, ranges included."""
    exposed: dict[str, dict[str, object]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for port, binding in _port_spec(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    return exposed, bindings


def port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    try:
        start, end = int(low), int(high) if dash else int(low)
    except ValueError as exc:
        raise ValueError(f"invalid {what}: {spec if what == 'containerPort' else text}") from exc
    if end < start or start < 0 or end > 65535:
        raise ValueError(f"invalid {what}: {text}")
    return start, end


def _port_spec(spec: str) -> list[tuple[str, dict[str, str]]]:
    parts = spec.split(":")
    container = parts[-1]
    ip, host = (":".join(parts[:-2]), parts[-2]) if len(parts) >= 3 else \
        ("", parts[0] if len(parts) == 2 else "")
    ip = ip.removeprefix("[").removesuffix("]")
    if ip:
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError as exc:
            raise ValueError(f"invalid IP address: {ip}") from exc
    port, _, proto = container.partition("/")
    if not port:
        raise ValueError(f"no port specified: {spec}<empty>")
    start, end = port_range(port, "containerPort", port)
    host_start = host_end = 0
    if host:
        host_start, host_end = port_range(host, "hostPort", host)
        if host_end - host_start and host_end - host_start != end - start:
            raise ValueError(f"invalid ranges specified for container and host Ports: "
                             f"{port} and {host}")
    result = []
    for i in range(end - start + 1):
        host_port = host
        if host and host_end != host_start:
            host_port = str(host_start + i)
        elif host and end != start:
            host_port = f"{host_start}-{host_end}" if host_end != host_start else host
        result.append((f"{start + i}/{proto or 'tcp'}", {"HostIp": ip, "HostPort": host_port}))
    return result


def env_value(text: str, environ: dict[str, str]) -> str:
    """opts.ValidateEnv: ``K=v`` as is; a bare ``K`` takes the CLI's value when it has one."""
    if text.startswith("="):
        raise ValueError(f"invalid environment variable: {text}")
    if "=" in text:
        return text
    return f"{text}={environ[text]}" if text in environ else text


def label_value(text: str) -> str:
    if not text.partition("=")[0].strip():
        raise ValueError(f"invalid label '{text}': empty name")
    return text


def ip_value(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError as exc:
        raise ValueError(f"IP address is not correctly formatted: {text}") from exc


def host_value(text: str) -> str:
    """opts.ValidateExtraHost: ``name:ip`` or ``name=ip`` (``host-gateway`` allowed)."""
    sep = "=" if "=" in text else ":"
    name, found, address = text.partition(sep)
    if not found or not name:
        raise ValueError(f"bad format for add-host: {text!r}")
    if address != "host-gateway":
        try:
            ip_value(address.removeprefix("[").removesuffix("]"))
        except ValueError as exc:
            raise ValueError(f"invalid IP address in add-host: {address!r}") from exc
    return f"{name}:{address}"


def read_kv_file(path: str, env: bool, environ: dict[str, str]) -> list[str]:
    """kvfile.Parse: ``K=v`` lines, ``#`` comments; a bare ``K`` takes the CLI's value for an
    env file and is left out when there is none (always, for a label file)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise ValueError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc
    values = []
    for raw in lines:
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, _ = line.partition("=")
        if not key:
            raise ValueError(f"no variable name on line '{line}'")
        if any(c in key for c in " \t\n\v\f\r"):
            raise ValueError(f"variable '{key}' contains whitespaces")
        if eq:
            values.append(line)
        elif env and key in environ:
            values.append(f"{key}={environ[key]}")
    return values
