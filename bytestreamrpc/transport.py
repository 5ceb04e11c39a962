"""Blocking byte transports with timeouts: the thin I/O under the sans-I/O core.

A transport moves bytes and nothing else. Every read takes a timeout (a peer
can stall), reads never ask for more than the caller's bound, and end of file
is ``b""``. Implementations: a pair of file descriptors (stdio, pipes, a
subprocess's stdin/stdout), a socket (TCP or Unix), and an in-memory pair for
tests.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .errors import ConnectionClosed, PeerTimeout

READ_SIZE = 256 * 1024
"""Default bound on one read: what a peer can make us hold per read call."""

SPIN_SECONDS = 100e-6
"""How long a read retries without sleeping before it waits in ``poll``.

A request/response conversation answers within tens of microseconds; going to
sleep in ``poll`` and being woken by the peer's write costs a cross-CPU wakeup
that, on small virtual machines, is slower than the whole round trip (measured
in docs/BENCHMARKS.md). A short bounded spin keeps the fast case fast and
costs at most this much CPU per idle wait.
"""


class Transport(Protocol):
    """What the blocking server and client need from a byte stream."""

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` at end of file; :class:`PeerTimeout` on stall."""
        ...

    def write(self, data: bytes, timeout: float | None = None) -> None:
        """All of ``data``, or :class:`ConnectionClosed` / :class:`PeerTimeout`."""
        ...

    def close(self) -> None:
        """Close both directions (idempotent)."""
        ...


def _poller(fd: int, for_write: bool) -> select.poll:
    poller = select.poll()
    poller.register(fd, select.POLLOUT if for_write else select.POLLIN)
    return poller


def _wait(poller: select.poll, timeout: float | None, what: str) -> None:
    ms = None if timeout is None else max(0, int(timeout * 1000))
    if not poller.poll(ms):
        raise PeerTimeout(f"peer did not {what} within {timeout} s")


def _read_spinning(
    read: Callable[[int], bytes], poller: select.poll, max_bytes: int, timeout: float | None
) -> bytes:
    """A non-blocking ``read`` retried for :data:`SPIN_SECONDS`, then waited for in ``poll``."""
    spin_until = 0.0
    while True:
        try:
            return read(max_bytes)
        except BlockingIOError:
            now = time.perf_counter()
            if not spin_until:
                spin_until = now + SPIN_SECONDS
            if now < spin_until:
                continue
            _wait(poller, timeout, "send anything")


def _write_all(
    write: Callable[[memoryview], int],
    poller: select.poll,
    data: bytes | memoryview,
    timeout: float | None,
) -> None:
    """All of ``data`` through a non-blocking ``write``, waiting in ``poll`` when it is full."""
    view = memoryview(data)
    while view:
        try:
            n = write(view)
        except BlockingIOError:
            _wait(poller, timeout, "read what we sent")
            continue
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ConnectionClosed(f"peer closed the connection: {exc.strerror}") from None
        view = view[n:]


class FdTransport:
    """A transport over a read fd and a write fd (stdio, pipes, a subprocess).

    Both fds are switched to non-blocking mode (unless they are terminals) so
    that a write to a peer that stopped reading times out instead of
    blocking forever; the original flags are restored on :meth:`close`.
    """

    def __init__(self, read_fd: int, write_fd: int, *, close_fds: bool = True) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._close_fds = close_fds
        self._closed = False
        self._saved: dict[int, bool] = {}
        for fd in {read_fd, write_fd}:
            if not os.isatty(fd):
                self._saved[fd] = os.get_blocking(fd)
                os.set_blocking(fd, False)
        self._read_poll = _poller(read_fd, False)
        self._write_poll = _poller(write_fd, True)

    @classmethod
    def stdio(cls) -> FdTransport:
        """Our stdin/stdout: the SSH forced-command model (``stdinserver``)."""
        return cls(0, 1, close_fds=False)

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        fd = self.read_fd
        try:
            return _read_spinning(lambda n: os.read(fd, n), self._read_poll, max_bytes, timeout)
        except OSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EBADF):
                return b""
            raise

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        fd = self.write_fd
        _write_all(lambda v: os.write(fd, v), self._write_poll, data, timeout)

    def close_write(self) -> None:
        """Signal end of file to the peer while still reading."""
        if self._close_fds and self.write_fd != self.read_fd:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd, blocking in self._saved.items():
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
        if self._close_fds:
            for fd in {self.read_fd, self.write_fd}:
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)


class SocketTransport:
    """A transport over a connected stream socket (TCP or Unix)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._closed = False
        sock.setblocking(False)
        self._read_poll = _poller(sock.fileno(), False)
        self._write_poll = _poller(sock.fileno(), True)

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        try:
            return _read_spinning(self.sock.recv, self._read_poll, max_bytes, timeout)
        except ConnectionResetError:
            return b""

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        _write_all(self.sock.send, self._write_poll, data, timeout)

    def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()


def connect_socket(address: str, timeout: float | None = 10.0) -> SocketTransport:
    """Connect to ``tcp://HOST:PORT`` or ``unix:PATH``."""
    family, addr = parse_address(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(addr)
    except OSError:
        sock.close()
        raise
    if family == socket.AF_INET or family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SocketTransport(sock)


def parse_address(address: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """``tcp://HOST:PORT`` or ``unix:PATH`` → (family, sockaddr); ValueError otherwise."""
    if address.startswith("unix:"):
        path = address[5:]
        if not path:
            raise ValueError(f"empty Unix socket path in {address!r}")
        return socket.AF_UNIX, path
    if address.startswith("tcp://"):
        hostport = address[6:]
        host, sep, port = hostport.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected tcp://HOST:PORT, got {address!r}")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, int(port))
    raise ValueError(f"unknown address {address!r}: use tcp://HOST:PORT or unix:PATH")


class SubprocessTransport(FdTransport):
    """A transport over a child process's stdin/stdout (a CONNECT-CMD, a server)."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._stdout = self.process.stdout
        super().__init__(self._stdout.fileno(), self._stdin.fileno(), close_fds=False)

    def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        self.write_fd = -1

    def close(self) -> None:
        super().close()
        for f in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):
                f.close()

    def wait(self, timeout: float | None = None) -> int:
        """Close our ends and wait for the child; kill it if it overstays ``timeout``."""
        self.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class _Pipe:
    """One direction of an in-memory pair: the bytes in flight, whether the writer closed,
    and how many readers are blocked on it (what tells that a peer waits for input)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.closed = False
        self.waiting = 0
        self.cond = threading.Condition()


class MemoryTransport:
    """One end of an in-memory connection, threads on both ends.

    Beyond the transport protocol it can tell when the *other* end waits for input
    (:meth:`peer_waiting`): an in-process peer has said everything it will say in answer to
    what we sent once it is blocked reading an empty pipe. The differential fuzzer's driver
    and stalemate guard need exactly that, without timing guesses.
    """

    def __init__(self, incoming: _Pipe, outgoing: _Pipe) -> None:
        self._in = incoming
        self._out = outgoing

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        pipe = self._in
        with pipe.cond:
            if not pipe.buf and not pipe.closed:
                pipe.waiting += 1
                pipe.cond.notify_all()
                try:
                    if not pipe.cond.wait_for(lambda: pipe.buf or pipe.closed, timeout):
                        raise PeerTimeout(f"peer did not send anything within {timeout} s")
                finally:
                    pipe.waiting -= 1
            data = bytes(pipe.buf[:max_bytes])
            del pipe.buf[:max_bytes]
            return data

    def read_available(self) -> bytes:
        """Everything buffered now, without waiting (``b""`` if nothing)."""
        with self._in.cond:
            data = bytes(self._in.buf)
            self._in.buf.clear()
            return data

    @property
    def at_eof(self) -> bool:
        with self._in.cond:
            return self._in.closed and not self._in.buf

    def has_input(self) -> bool:
        """Bytes (or end of file) are waiting to be read."""
        with self._in.cond:
            return bool(self._in.buf) or self._in.closed

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        pipe = self._out
        with pipe.cond:
            if pipe.closed:
                raise ConnectionClosed("peer closed the connection")
            if data:
                pipe.buf += data
                pipe.cond.notify_all()

    def close_write(self) -> None:
        with self._out.cond:
            self._out.closed = True
            self._out.cond.notify_all()

    def close(self) -> None:
        self.close_write()
        with self._in.cond:
            self._in.closed = True
            self._in.buf.clear()
            self._in.cond.notify_all()

    def peer_waiting(self) -> bool:
        """The other end is blocked reading what we send, and we have sent it everything."""
        with self._out.cond:
            return self._out.waiting > 0 and not self._out.buf

    def wait_until_peer_waits(self, alive: threading.Thread, timeout: float) -> bool:
        """Block until the other end waits for input or its thread ended (``False``: timeout)."""
        deadline = time.monotonic() + timeout
        pipe = self._out
        with pipe.cond:
            while not (pipe.waiting > 0 and not pipe.buf):
                if not alive.is_alive():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                pipe.cond.wait(min(left, 0.01))
        return True


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory transports ``(a, b)``: what ``a`` writes ``b`` reads."""
    ab, ba = _Pipe(), _Pipe()
    return MemoryTransport(ba, ab), MemoryTransport(ab, ba)
