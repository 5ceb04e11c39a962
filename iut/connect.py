"""``{connect}``: a command line whose stdin/stdout is a connection to our scripted peer.

A ``pull`` or ``push`` command reaches its server the way the original did, through a
command (``ssh host`` with a forced ``stdinserver``). When the suite plays the server, it
listens on a Unix socket in the sandbox (:class:`ConnectListener`) and gives the
implementation ``python .../iut/connect.py unix:PATH`` as ``{connect}``: this module's
:func:`main` copies its stdin to the socket and the socket to its stdout, half-closing like a
pipe (stdin EOF shuts down the socket's write side; the peer closing ends the command).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from bytestreamrpc.errors import PeerTimeout
from bytestreamrpc.transport import SocketTransport, parse_address

__all__ = ["ConnectListener", "connect_command", "main"]

_BLOCK = 256 * 1024


def connect_command(address: str) -> list[str]:
    """The ``{connect}`` argv reaching ``address`` (``unix:PATH`` or ``tcp://HOST:PORT``).

    This file is run as a script (not ``-m iut.connect``) so the command works from any
    working directory whether or not this package is installed.
    """
    return [sys.executable, str(Path(__file__).resolve()), address]


class ConnectListener:
    """A Unix socket in ``directory`` that one ``{connect}`` command connects to."""

    def __init__(self, directory: str | Path, name: str = "connect.sock") -> None:
        self.path = Path(directory) / name
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(4)

    @property
    def address(self) -> str:
        return f"unix:{self.path}"

    def command(self) -> list[str]:
        return connect_command(self.address)

    def accept(self, timeout: float | None) -> SocketTransport:
        """Wait for the implementation's connect command; :class:`PeerTimeout` if none."""
        self._sock.settimeout(timeout)
        try:
            conn, _ = self._sock.accept()
        except TimeoutError:
            raise PeerTimeout(f"nothing connected to {self.address} within {timeout} s") from None
        conn.setblocking(True)
        return SocketTransport(conn)

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> ConnectListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _upstream(sock: socket.socket) -> None:
    """stdin → socket; EOF on stdin half-closes the socket."""
    try:
        while True:
            data = os.read(0, _BLOCK)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m iut.connect unix:PATH|tcp://HOST:PORT", file=sys.stderr)
        return 2
    try:
        family, addr = parse_address(args[0])
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.connect(addr)
    except (OSError, ValueError) as exc:
        print(f"iut.connect: cannot connect to {args[0]}: {exc}", file=sys.stderr)
        return 1
    upstream = threading.Thread(target=_upstream, args=(sock,), daemon=True)
    upstream.start()
    try:
        while True:
            data = sock.recv(_BLOCK)
            if not data:
                break
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
    sys.exit(main())
