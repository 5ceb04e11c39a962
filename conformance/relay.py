"""``{connect}`` for client-role cases: stdin/stdout <-> a Unix socket the suite listens on.

Run as a *file* with ``python -I -S relay.py unix:PATH`` (standard library only, no site
packages), so a client case pays for the smallest possible interpreter start. It copies its
stdin to the socket and the socket to its stdout, half-closing like a pipe: end of stdin shuts
down the socket's sending side, the suite closing the socket ends the command. (The same job
as :mod:`iut.connect`, which imports the toolkit and starts several times slower.)
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

BLOCK = 256 * 1024


def _upstream(sock: socket.socket) -> None:
    try:
        while data := os.read(0, BLOCK):
            sock.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].startswith("unix:"):
        sys.stderr.write("usage: relay.py unix:PATH\n")
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(argv[0][5:])
    except OSError as exc:
        sys.stderr.write(f"relay: cannot connect to {argv[0]}: {exc}\n")
        return 1
    upstream = threading.Thread(target=_upstream, args=(sock,), daemon=True)
    upstream.start()
    try:
        while data := sock.recv(BLOCK):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.close(1)
    # What the command already wrote still goes to the socket, as through a pipe: it ends
    # at the command's end of output (or a dead socket), never with this process.
    upstream.join()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
