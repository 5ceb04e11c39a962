"""``{connect}``: a command line whose stdin/stdout is a connection to our scripted peer.

A ``pull`` or ``push`` command reaches its server the way the original did, through a
command (``ssh host`` with a forced ``stdinserver``). When the suite plays the server, it
listens on a Unix socket in the sandbox (:class:`ConnectListener`) and gives the
implementation ``python -I -S .../iut/relay.py unix:PATH`` as ``{connect}``
(:func:`connect_command`): :mod:`iut.relay` copies both ways and ends the way ``ssh`` does.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path
from typing import Final

from bytestreamrpc.errors import PeerTimeout
from bytestreamrpc.transport import SocketTransport
from fakes.closing import Closing

__all__ = ["RELAY", "ConnectListener", "connect_command"]

_BLOCK = 256 * 1024


RELAY: Final = Path(__file__).resolve().parent / "relay.py"


def connect_command(address: str) -> list[str]:
    """The ``{connect}`` argv reaching ``address`` (``unix:PATH`` or ``tcp://HOST:PORT``).

    The relay is run as a file without site packages (``-I -S``): it needs only the standard
    library, starts fastest that way, and works from any working directory whether or not
    this package is installed.
    """
    return [sys.executable, "-I", "-S", str(RELAY), address]


class ConnectListener(Closing):
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
