"""A server the network tests run inside a namespace (stdlib only, started with ``python -S``).

``echo_server.py LABEL PORT...`` listens on every PORT over TCP and UDP and answers each
connection or datagram with ``LABEL PEER-ADDRESS``, so a test sees both who answered and whom
the server saw (after NAT). It prints ``ready`` once every socket is bound.
"""

import socket
import sys
import threading


def serve_tcp(label: str, sock: socket.socket) -> None:
    while True:
        conn, peer = sock.accept()
        with conn:
            conn.sendall(f"{label} {peer[0]}\n".encode())


def serve_udp(label: str, sock: socket.socket) -> None:
    while True:
        _data, peer = sock.recvfrom(512)
        sock.sendto(f"{label} {peer[0]}\n".encode(), peer)


def main() -> None:
    label = sys.argv[1]
    threads = []
    for port in (int(p) for p in sys.argv[2:]):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("0.0.0.0", port))
        tcp.listen(64)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("0.0.0.0", port))
        threads += [threading.Thread(target=serve_tcp, args=(label, tcp), daemon=True),
                    threading.Thread(target=serve_udp, args=(label, udp), daemon=True)]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
