"""A warm spawner for the runtime_library row: dockyard's library (runtime.library.Runtime)
in a long-lived process, as the daemon uses it. Run with dockyard's python:

    python bench/runtime_driver.py ROOT BUNDLE

It warms up (imports, the sealed exec helper, one container), prints "ready", then answers
each line "COUNT GAP_S" on stdin with a JSON list of COUNT durations in seconds: each is one
container's `run` + `wait` + `delete`, after GAP_S seconds of sleep (untimed). With no gap,
one untimed container goes first, so that every timed one follows another. An error is
printed as {"error": "..."}; the process ends at the end of stdin.
"""

from __future__ import annotations

import json
import os
import sys
import time

from dockyard.runtime.library import Runtime


def main() -> int:
    root, bundle = sys.argv[1], sys.argv[2]
    runtime = Runtime(root, subreaper=True)
    runtime.warm_up()
    null = os.open("/dev/null", os.O_RDWR)
    serial = iter(range(1 << 30))

    def one() -> float:
        cid = f"dockyard-bench-lib-{os.getpid()}-{next(serial)}"
        start = time.perf_counter()
        container = runtime.run(cid, bundle, stdio=(null, null, null))
        status = runtime.wait(container)
        runtime.delete(cid)
        elapsed = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"container {cid} exited {status}")
        return elapsed

    try:
        one()
        print("ready", flush=True)
        for line in sys.stdin:
            count, gap = int(line.split()[0]), float(line.split()[1])
            if not gap:
                one()
            samples = []
            for _ in range(count):
                if gap:
                    time.sleep(gap)
                samples.append(one())
            print(json.dumps(samples), flush=True)
    except Exception as exc:  # the row reports it; the process ends
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
