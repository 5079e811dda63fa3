"""Build a golden case with the real dockerd (classic builder) and report its image config.

Used only by ``test_golden.py --record-dockerd``, by hand. It builds with DOCKER_BUILDKIT=0
and --no-cache from a copy of the case directory, reads ``.Config``, and removes every image
the build made (the final one, or on failure each intermediate one it printed). It never pulls:
the cases build FROM scratch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12})$", re.MULTILINE)
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12})$", re.MULTILINE)
_NOISE = ("DEPRECATED", "BuildKit", "buildx", "environment-variable", "docs.docker.com",
          "Sending build context", "Step ", " ---> ", "Removing intermediate", "[Warning]")


def build_with_dockerd(case_dir: Path, build_args: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dockyard-golden-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(case_dir, context, ignore=shutil.ignore_patterns("expected.json"))
        command = ["docker", "build", "--no-cache", "--rm", "--force-rm", "."]
        for key, value in build_args.items():
            command[2:2] = ["--build-arg", f"{key}={value}"]
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        done = subprocess.run(command, cwd=context, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    output = done.stdout + done.stderr
    built = _BUILT.search(output)
    try:
        if done.returncode != 0 or built is None:
            return {"build_args": build_args, "error": _error(output)}
        return {"build_args": build_args, "config": _config(built.group(1))}
    finally:
        # The final image first (it takes its untagged parents), then earlier stages' images.
        for image in [built.group(1)] if built else []:
            subprocess.run(["docker", "rmi", image], capture_output=True, check=False)
        for image in reversed(_STEP_ID.findall(output)):
            subprocess.run(["docker", "rmi", image], capture_output=True, check=False)


def _error(output: str) -> str:
    lines = [line for line in output.splitlines()
             if line.strip() and not any(noise in line for noise in _NOISE)]
    return lines[-1] if lines else output


def _config(image: str) -> Any:
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config}}", image],
        capture_output=True, text=True, check=True)
    return json.loads(inspected.stdout)
