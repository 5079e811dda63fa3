"""Record what dockerd 20.10's classic builder makes of each golden build case.

Run by hand as root with dockerd on /var/run/docker.sock::

    .venv/bin/python tests/golden/build_images/record.py [case ...]

It imports the busybox rootfs tar dockyard's bootstrap makes (``/bin/busybox``, mtime 0) into
dockerd as ``dyimg-build-golden-<pid>:busybox``, builds each case with
``DOCKER_BUILDKIT=0 /usr/bin/docker build --no-cache --force-rm`` (FROM busybox rewritten to
that name; nothing is pulled), saves the image to read its config and layers, and writes
``expected.json``. Every image it made there is removed at the end.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES, HERE, case, layer_listing, prepare

DOCKER = "/usr/bin/docker"
_ID = re.compile(r"\b[0-9a-f]{12}\b")
_STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12})$", re.MULTILINE)
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12})$", re.MULTILINE)
_NOISE = ("DEPRECATED", "BuildKit", "environment-variable", "docs.docker.com", "Install the",
          "Sending build context", "[Warning] IPv4 forwarding")


def docker(*args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_HOST="unix:///var/run/docker.sock")
    done = subprocess.run([DOCKER, *args], input=stdin, capture_output=True, env=env,
                          check=False, timeout=300)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode()}")
    return done.stdout + (b"" if check else done.stderr)


def busybox_tar() -> bytes:
    from dockyard.cli.rootfs import busybox_tar as make

    binary = Path("/bin/busybox").read_bytes()
    listing = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    out = io.BytesIO()
    make(binary, listing, out, 0)
    return out.getvalue()


def normal_output(text: str) -> list[str]:
    """The build's output lines with IDs replaced, as both builders are compared."""
    lines = [line for line in text.splitlines()
             if line.strip() and not any(noise in line for noise in _NOISE)]
    return [_ID.sub("<id>", line) for line in lines]


def saved(image: str) -> tuple[dict[str, Any], list[bytes]]:
    data = docker("save", image)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        layers = [tar.extractfile(name).read() for name in manifest["Layers"]]  # type: ignore
    return config, layers


def summary(config: dict[str, Any], layers: list[bytes], base_history: int) -> dict[str, Any]:
    """What is compared: the container config (empty values and Image left out), the history
    the build added, and the layers it added."""
    container = {k: v for k, v in config["config"].items() if v not in (None, "", [], {}, False)
                 and k != "Image"}
    history = [[h.get("created_by", ""), h.get("empty_layer", False), h.get("author", ""),
                h.get("comment", "")] for h in config["history"][base_history:]]
    added = [layer_listing(layer) for layer in layers[1:]]
    return {"config": container, "author": config.get("author", ""), "history": history,
            "layers": added}


def record(name: str, base: str) -> dict[str, Any]:
    spec = case(name)
    with tempfile.TemporaryDirectory(prefix="dyimg-golden-") as tmp:
        context = prepare(name, Path(tmp) / "ctx")
        dockerfile = context / "Dockerfile"
        dockerfile.write_text(re.sub(r"\bbusybox\b", base, dockerfile.read_text()))
        os.utime(dockerfile, (1_600_000_000, 1_600_000_000))
        args = ["build", "--no-cache", "--force-rm"]
        for key, value in spec.get("build_args", {}).items():
            args += ["--build-arg", f"{key}={value}"]
        for key, value in spec.get("labels", {}).items():
            args += ["--label", f"{key}={value}"]
        if spec.get("target"):
            args += ["--target", spec["target"]]
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        done = subprocess.run([DOCKER, *args, "."], cwd=context, capture_output=True, env=env,
                              text=True, check=False, timeout=300)
    output = done.stdout + done.stderr
    keep = docker("image", "inspect", "--format", "{{.Id}}", base).decode().strip()
    ids = [i for i in _STEP_ID.findall(output) if not keep.startswith(f"sha256:{i}")]
    built = _BUILT.search(output)
    try:
        result: dict[str, Any] = {"output": normal_output(output)}
        if done.returncode != 0 or built is None:
            result["error"] = result["output"][-1]
            return result
        config, layers = saved(built.group(1))
        result.update(summary(config, layers, 1))
        return result
    finally:
        for image in reversed([*ids, *(built.groups() if built else ())]):
            docker("rmi", "-f", image, check=False)


def main(names: list[str]) -> None:
    base = f"dyimg-build-golden-{os.getpid()}-{os.urandom(4).hex()}:busybox"
    docker("import", "--change", 'CMD ["sh"]', "-", base, stdin=busybox_tar())
    try:
        for name in names or CASES:
            spec = case(name)
            spec["dockerd"] = record(name, base)
            (HERE / name / "expected.json").write_text(json.dumps(spec, indent=1) + "\n")
            print("recorded", name)
    finally:
        docker("rmi", base, check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
