"""A client the network tests run inside a namespace (``python -S``).

``client.py tcp|udp HOST PORT`` prints the first line the server sends back (for UDP, after
sending one datagram), or ``error: <reason>`` when nothing answers within a second.
"""

import socket
import sys


def main() -> None:
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if proto == "tcp":
            with socket.create_connection((host, port), timeout=1) as sock:
                print(sock.recv(200).decode().strip())
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1)
                sock.sendto(b"?", (host, port))
                print(sock.recv(200).decode().strip())
    except OSError as exc:
        print(f"error: {exc.__class__.__name__}")


if __name__ == "__main__":
    main()
