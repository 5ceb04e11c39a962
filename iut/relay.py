"""``{connect}``: stdin/stdout <-> a listening peer, ending the way ``ssh`` ends.

The original's pull and push jobs reach their server through ``ssh host ...`` and, on end
of input, wait for that ``ssh`` process to exit before they go on (``util.IOCommand``). Real
``ssh`` exits as soon as the remote side has closed the channel, whatever its own stdin is
doing. This relay does the same, so a client written like the original neither hangs nor
loses bytes:

* while the peer's side is open it copies both ways;
* when the client closes its output (our stdin), the peer sees end of input and the relay
  keeps delivering the peer's bytes;
* when the peer shuts down its sending side, the client sees end of input (our stdout is
  closed) and the relay keeps carrying the client's bytes to the peer, which may still read;
* when the peer has closed the connection completely, every byte it sent has been delivered
  and the relay exits at once, without waiting for its stdin (bytes the client wrote before
  that moment have reached the peer: they were forwarded as they came).

"Closed completely" is the socket's hang-up (``POLLHUP``): on a Unix stream socket the kernel
reports it when the peer has closed its end, and not after a mere ``shutdown(SHUT_WR)``. A
TCP peer's full close cannot be told from a half close without writing to it, so over TCP
the relay ends when both directions have ended (or a write fails).

It is run as a *file*, ``python -I -S relay.py ADDRESS`` (standard library only, no site
packages), so a client case pays for the smallest interpreter start; ``zrepl-conformance
connect`` runs the same :func:`main`, then :func:`exit_now`. ADDRESS is ``unix:PATH`` or ``tcp://HOST:PORT``.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import threading
from collections.abc import Sequence

__all__ = ["BLOCK", "exit_now", "main", "open_socket"]

BLOCK = 256 * 1024
_HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def open_socket(address: str) -> socket.socket:
    """A connected stream socket for ``unix:PATH`` or ``tcp://HOST:PORT``.

    Kept free of the toolkit's imports (this file runs without site packages); raises
    ``ValueError`` for an address of another form, ``OSError`` when nothing listens there.
    """
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address[5:]
    elif address.startswith("tcp://"):
        host, sep, port = address[6:].rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"not HOST:PORT: {address[6:]!r}")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        target = (host.strip("[]"), int(port))
    else:
        raise ValueError("an address is unix:PATH or tcp://HOST:PORT")
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


class _Upstream(threading.Thread):
    """stdin -> socket; end of stdin half-closes the socket (the peer sees end of input)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True, name="relay-upstream")
        self.sock = sock

    def run(self) -> None:
        try:
            while data := os.read(0, BLOCK):
                self.sock.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


def _downstream(sock: socket.socket) -> None:
    """socket -> stdout until the peer stops sending; then the client sees end of input."""
    try:
        while data := sock.recv(BLOCK):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.close(1)


def _wait_for_hangup(sock: socket.socket, upstream: _Upstream) -> None:
    """Return once the peer closed completely, or once the client's side has ended too."""
    poller = select.poll()
    poller.register(sock, 0)  # hang-up and errors are always reported
    unix = sock.family == socket.AF_UNIX
    while upstream.is_alive():
        if unix and any(ev & _HANGUP for _fd, ev in poller.poll(50)):
            return
        if not unix:
            upstream.join(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: relay.py unix:PATH | tcp://HOST:PORT\n")
        return 2
    try:
        sock = open_socket(args[0])
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"connect: cannot connect to {args[0]}: {exc}\n")
        return 1
    upstream = _Upstream(sock)
    upstream.start()
    _downstream(sock)
    _wait_for_hangup(sock, upstream)
    return 0


def exit_now(code: int) -> None:
    """End the process at once with ``code``.

    The upstream thread may sit in a read of stdin that nothing will end; like ssh, the
    relay does not wait for it (an interpreter shutdown would).
    """
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
