"""A stub resolver the DNS tests run in their "outside" namespace (``python -S``).

``stub_dns.py ADDRESS`` answers, on ADDRESS:53 over UDP, every A question with 198.18.0.99,
except names starting with ``missing``, which get NXDOMAIN; it prints each name it was asked,
after ``ready``.
"""

import socket
import struct
import sys


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], 53))
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(512)
        ident, _flags = struct.unpack_from("!HH", data)
        offset, labels = 12, []
        while data[offset]:
            labels.append(data[offset + 1:offset + 1 + data[offset]].decode())
            offset += 1 + data[offset]
        end = offset + 5
        name = ".".join(labels)
        print(name, flush=True)
        if name.startswith("missing"):
            reply = struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + data[12:end]
        else:
            reply = (struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + data[12:end]
                     + struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([198, 18, 0, 99]))
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
