"""The reference server: the seed's ``serverLoop`` over one transport.

:meth:`Server.serve` runs one connection to its end and reports how it ended.
It never raises for anything the peer does (garbage, stalls, a close
mid-frame): those end the connection the way docs/PROTOCOL.md §server says,
or by timeout. :func:`serve_listener` accepts many connections concurrently,
one thread each (the work per connection is I/O bound).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from .client import Client
from .connection import DEFAULT_MAX_MESSAGE, Connection, Role, State
from .interfaces import RPCHandler
from .serving import DEFAULT_TIMEOUT, ServeOutcome, serve_loop
from .transport import SocketTransport, Transport, parse_address

log = logging.getLogger("bytestreamrpc.server")


class Server:
    """Serves connections with one handler under one client identity."""

    def __init__(
        self,
        handler: RPCHandler,
        *,
        identity: str = "",
        timeout: float | None = DEFAULT_TIMEOUT,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.handler = handler
        self.identity = identity
        self.timeout = timeout
        self.max_message = max_message

    def serve(self, transport: Transport, *, close: bool = True) -> ServeOutcome:
        """Serve one connection; close the transport when done (unless told not to).

        A loop that *returns* without closing (§server.fsv.decode-error,
        §server.pullme.finished) still ends the connection here when
        ``close`` is true: the original's ``stdinserver`` exits at that point.
        """
        conn = Connection(Role.SERVER, identity=self.identity, max_message=self.max_message)
        outcome = serve_loop(
            conn,
            transport,
            self.handler,
            lambda c, t: Client(c, t, timeout=self.timeout),
            timeout=self.timeout,
        )
        log.info(
            "connection ended: %s%s (%d requests)",
            outcome.state.value,
            f" ({outcome.reason})" if outcome.reason else "",
            outcome.requests,
        )
        if close or outcome.state is not State.RETURNED:
            transport.close()
        return outcome


def serve_listener(
    address: str,
    handler_for: Callable[[], RPCHandler],
    *,
    identity: str,
    timeout: float | None = DEFAULT_TIMEOUT,
    ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Accept connections on ``tcp://HOST:PORT`` or ``unix:PATH`` and serve each in a thread.

    ``handler_for`` is called once per connection. ``ready`` gets the bound
    address (useful with port 0). Returns when ``stop`` is set.
    """
    family, addr = parse_address(address)
    if family == socket.AF_UNIX and isinstance(addr, str) and os.path.exists(addr):
        os.unlink(addr)
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(addr)
    lsock.listen(64)
    lsock.settimeout(0.2)
    bound = lsock.getsockname()
    if ready is not None:
        ready(f"tcp://{bound[0]}:{bound[1]}" if isinstance(bound, tuple) else f"unix:{bound}")
    try:
        while stop is None or not stop.is_set():
            try:
                sock, _ = lsock.accept()
            except TimeoutError:
                continue
            sock.setblocking(True)
            if family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server = Server(handler_for(), identity=identity, timeout=timeout)
            threading.Thread(
                target=server.serve, args=(SocketTransport(sock),), daemon=True
            ).start()
    finally:
        lsock.close()
        if family == socket.AF_UNIX and isinstance(addr, str) and os.path.exists(addr):
            os.unlink(addr)
