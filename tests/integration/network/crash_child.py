"""A daemon stand-in for the crash test: sets up networks, then waits to be SIGKILLed.

``crash_child.py ROOT TAG NETNS...`` opens :class:`Networks` on ROOT with the tests' settings
for TAG, creates the user network "front", attaches one container per namespace (ID
``c<index>``, alternating between the default bridge and "front"), publishes container port
80 of each on an ephemeral host port, prints one JSON line with the endpoints and ports, and
sleeps. Nothing is cleaned up: the test kills it with SIGKILL and reconciles.
"""

import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import container_id, settings
from dockyard.network.dns import DnsHub
from dockyard.network.manager import Networks
from dockyard.network.ports import parse_publish
from dockyard.sys.linux import LinuxSyscalls


def main() -> None:
    root, tag, namespaces = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    networks = Networks(root / "config", root / "state", LinuxSyscalls(), dns=DnsHub([]),
                        settings=settings(tag))
    networks.open()
    networks.create("front")
    report = {}
    for number, ns in enumerate(namespaces):
        cid = container_id(number)
        endpoint = networks.attach(cid, f"/run/netns/{ns}", ("bridge", "front")[number % 2],
                                   name=f"c{number}")
        ports = networks.publish(cid, parse_publish("80"))
        report[cid] = {"veth": endpoint.host_ifname, "ip": str(endpoint.ip),
                       "port": ports[0].host_port}
    print(json.dumps(report), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
