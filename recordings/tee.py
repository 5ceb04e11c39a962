"""The recorder's I/O: a transparent stdio tee in front of a command, and a TCP proxy.

Transparency comes first: each direction is one thread that reads a block, hands it to the
recording queue and writes exactly those bytes on, so nothing is added, removed, reordered
or held back for parsing. End of file is passed on the moment it is seen (the child's stdin
is closed when ours ends; our stdout is closed when the child's ends), the child's exit
status becomes ours, and if one side stops reading, the other side's reads are closed so it
sees the same broken pipe it would have seen without us.

Recording is asynchronous: a separate thread parses and hashes (:class:`Recorder`) and writes
records, so the forwarding threads only move bytes. Where the input is a pipe (the usual case
for a forced command or a connect command) the bytes never enter Python on the forwarding
path: ``tee(2)`` duplicates them into a private side pipe and ``splice(2)`` moves them on,
both without copying, and the recording thread reads the side pipe. Elsewhere (sockets,
terminals) a plain read/write loop hands each block to the recorder. Either way the
recording queue is bounded (memory stays small when the disk is slow) and a block is queued
*before* it is forwarded, so a reply can never be queued ahead of the request that caused
it and the transcript keeps the conversation's causal order. A failure to record (disk
full) never disturbs the connection: recording stops and one line on stderr says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final, cast

from bytestreamrpc.streamcopy import widen_pipe
from bytestreamrpc.transport import parse_address

from .classify import Recorder
from .format import C2S, S2C, Direction, Header, TranscriptWriter

__all__ = ["BLOCK", "RecordingSink", "proxy", "record_stdio", "transcript_path"]

BLOCK: Final = 1 << 20
"""Bytes per read: large reads keep the per-byte cost of the copy low."""
QUEUE_BLOCKS: Final = 64
"""Queue entries (blocks of up to :data:`BLOCK` bytes) between forwarding and recording."""
POOL_BLOCKS: Final = 64
"""Side-pipe blocks the recorder may hold unprocessed (64 MiB) before forwarding waits."""
EXIT_GRACE: Final = 0.5
"""Seconds we wait for the client's end of file after the server exited."""


SIDE_PIPE_SIZES: Final = (16 << 20, 4 << 20, 1 << 20)
"""Side-pipe capacities to try (how far recording may lag before forwarding waits)."""
_F_SETPIPE_SZ: Final = 1031


def _load_tee() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.tee
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
    fn.restype = ctypes.c_ssize_t
    return fn


_TEE: Final = _load_tee()


def _tee(fd_in: int, fd_out: int, n: int) -> int:
    """``tee(2)``: duplicate up to ``n`` bytes from pipe ``fd_in`` into pipe ``fd_out``."""
    assert _TEE is not None
    while True:
        r = _TEE(fd_in, fd_out, n, 0)
        if r >= 0:
            return r
        err = ctypes.get_errno()
        if err != errno.EINTR:
            raise OSError(err, os.strerror(err))


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def _side_pipe() -> tuple[int, int]:
    r, w = os.pipe()
    for size in SIDE_PIPE_SIZES:
        try:
            fcntl.fcntl(w, _F_SETPIPE_SZ, size)
            break
        except OSError:
            continue
    return r, w


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordingSink:
    """The recording side: blocks in, records out to the transcript file.

    Two threads. The *reader* takes the forwarders' queue entries in order and, for blocks
    waiting in a side pipe, copies them into a buffer from a bounded pool, so the side pipes
    (which the kernel keeps small) drain at once and forwarding does not wait for hashing.
    The *recorder* parses, hashes and writes. Recording may thus lag the connection by up to
    :data:`POOL_BLOCKS` blocks before forwarding waits for it.
    """

    _STOP: Final = object()

    def __init__(
        self, writer: TranscriptWriter, *, full: Collection[Direction] = (), timing: bool = True
    ) -> None:
        self.writer = writer
        digest = writer.header.digest
        self.recorder = (
            Recorder.timed(full=full, digest=digest)
            if timing
            else Recorder(full=full, digest=digest)
        )
        self.queue: queue.Queue[object] = queue.Queue(QUEUE_BLOCKS)
        self._work: queue.Queue[object] = queue.Queue()
        self._free: queue.Queue[bytearray] = queue.Queue()
        self._allocated = 0
        self.error: str | None = None
        self._side: dict[Direction, int] = {}
        self._reader = threading.Thread(target=self._read, name="recorder-reader", daemon=True)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._reader.start()
        self._thread.start()

    def put(self, d: Direction, data: bytes | int | None, reason: str | None = None) -> None:
        """Queue a block (bytes), ``n`` bytes waiting in ``d``'s side pipe (int), or EOF."""
        self.queue.put((d, data, reason))

    def side_pipe(self, d: Direction) -> int:
        """A pipe the forwarder of ``d`` tees into; returns its write end."""
        r, w = _side_pipe()
        self._side[d] = r
        return w

    def _buffer(self) -> bytearray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            if self._allocated < POOL_BLOCKS:
                self._allocated += 1
                return bytearray(BLOCK)
            return self._free.get()  # recording is POOL_BLOCKS behind: wait for it

    def _read_side(self, d: Direction, n: int) -> tuple[bytearray, int]:
        fd = self._side[d]
        buf = self._buffer()
        if len(buf) < n:
            buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = os.readv(fd, [view[got:n]])
            if k == 0:
                raise OSError(f"{d} side pipe ended {n - got} bytes early")
            got += k
        return buf, n

    def _read(self) -> None:
        """Reader thread: resolve side-pipe entries into buffers, keep the order."""
        while True:
            item = self.queue.get()
            if item is self._STOP:
                self._work.put(item)
                return
            d, data, reason = cast(tuple[Direction, bytes | int | None, str | None], item)
            if isinstance(data, int):
                try:
                    item = (d, self._read_side(d, data), reason)
                except OSError as exc:
                    item = (d, f"recording stopped: {exc}", reason)
            self._work.put(item)

    def _run(self) -> None:
        """Recorder thread: parse, hash, write; hand pool buffers back."""
        rec = self.recorder
        while True:
            item = self._work.get()
            if item is self._STOP:
                return
            d, data, reason = cast(
                tuple[Direction, bytes | tuple[bytearray, int] | str | None, str | None], item
            )
            pooled: bytearray | None = None
            try:
                if isinstance(data, str):
                    raise OSError(data)
                block: bytes | memoryview | None
                if isinstance(data, tuple):
                    pooled, n = data
                    block = memoryview(pooled)[:n]
                else:
                    block = data
                if self.error is not None:
                    continue  # keep draining so forwarding never blocks on us
                out = rec.eof(d, reason) if block is None else rec.feed(d, block)
                if out:
                    self.writer.write_all(out)
            except Exception as exc:
                if self.error is None:
                    self.error = f"recording stopped: {exc}"
            finally:
                if pooled is not None:
                    self._free.put(pooled)

    def close(self, exit_status: int | None) -> None:
        """Flush everything queued, record streams in progress and the exit, close the file."""
        self.queue.put(self._STOP)
        self._reader.join()
        self._thread.join()
        if self.error is None:
            try:
                out = self.recorder.stop()
                if exit_status is not None:
                    out += self.recorder.exit(exit_status)
                self.writer.write_all(out)
            except Exception as exc:
                self.error = f"recording stopped: {exc}"
        with contextlib.suppress(OSError):
            self.writer.close()
        for fd in self._side.values():
            with contextlib.suppress(OSError):
                os.close(fd)


def _pump(
    d: Direction,
    read: Callable[[int], bytes],
    write_all: Callable[[bytes], None],
    end_write: Callable[[], None],
    stop_read: Callable[[], None],
    sink: RecordingSink,
) -> None:
    """Copy one direction until end of file; record every block before forwarding it."""
    reason: str | None = None
    try:
        while True:
            try:
                data = read(BLOCK)
            except OSError:
                data = b""
            if not data:
                break
            sink.put(d, data)
            try:
                write_all(data)
            except OSError:
                reason = "write failed: the receiving side closed"
                with contextlib.suppress(OSError):
                    stop_read()
                break
    finally:
        sink.put(d, None, reason)
        with contextlib.suppress(OSError):
            end_write()


def _pump_spliced(
    d: Direction,
    in_fd: int,
    out_fd: int,
    end_write: Callable[[], None],
    stop_read: Callable[[], None],
    sink: RecordingSink,
) -> None:
    """Like :func:`_pump` for a pipe input, without copying: ``tee`` to the side pipe, then
    ``splice`` exactly those bytes to ``out_fd``. Falls back to copying if the kernel
    refuses ``tee``/``splice`` for these descriptors."""
    side_w = sink.side_pipe(d)
    reason: str | None = None
    copying = False
    try:
        while True:
            if copying:
                data = os.read(in_fd, BLOCK)
                if not data:
                    break
                sink.put(d, data)
                _fd_writer(out_fd)(data)
                continue
            try:
                n = _tee(in_fd, side_w, BLOCK)
            except OSError as exc:
                if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
                    copying = True
                    continue
                break
            if n == 0:
                break
            sink.put(d, n)
            left = n
            while left:
                try:
                    left -= os.splice(in_fd, out_fd, left)
                except OSError as exc:
                    if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                        raise
                    copying = True  # the kernel refuses splice here: copy this block
                    while left:
                        chunk = os.read(in_fd, left)
                        if not chunk:
                            break
                        _fd_writer(out_fd)(chunk)
                        left -= len(chunk)
    except OSError:
        reason = "write failed: the receiving side closed"
        with contextlib.suppress(OSError):
            stop_read()
    finally:
        sink.put(d, None, reason)
        with contextlib.suppress(OSError):
            os.close(side_w)
        with contextlib.suppress(OSError):
            end_write()


def _forward(
    d: Direction,
    in_fd: int,
    out_fd: int,
    end_write: Callable[[], None],
    stop_read: Callable[[], None],
    sink: RecordingSink,
) -> threading.Thread:
    """Start the forwarding thread of one direction between two file descriptors."""
    if _TEE is not None and _is_pipe(in_fd) and not os.environ.get("ZREPL_RECORD_NO_SPLICE"):
        return _start(d, lambda: _pump_spliced(d, in_fd, out_fd, end_write, stop_read, sink))
    return _start(
        d,
        lambda: _pump(d, _fd_reader(in_fd), _fd_writer(out_fd), end_write, stop_read, sink),
    )


def _fd_writer(fd: int) -> Callable[[bytes], None]:
    def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    return write_all


def _fd_reader(fd: int) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        return os.read(fd, n)

    return read


def _start(name: str, target: Callable[[], None]) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


def record_stdio(
    argv: Sequence[str],
    out: str | Path,
    *,
    header: Header,
    full: Collection[Direction] = (),
    stdin_fd: int = 0,
    stdout_fd: int = 1,
) -> tuple[int, str | None]:
    """Run ``argv`` with our stdin/stdout passed through and recorded to ``out``.

    Returns ``(exit status, recording error or None)``; the status is the child's (128+N when
    a signal N killed it), so a forced command keeps its meaning.
    """
    writer = TranscriptWriter(out, replace(header, full=tuple(full), started=now_utc()))
    sink = RecordingSink(writer, full=full)
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except OSError as exc:
        sink.close(None)
        # like a shell: 127 for a command that is not there, 126 for one that cannot run
        status = 127 if isinstance(exc, FileNotFoundError) else 126
        return status, f"cannot start {argv[0]}: {exc.strerror or exc}"
    assert proc.stdin is not None and proc.stdout is not None
    child_in, child_out = proc.stdin, proc.stdout
    for fd in (stdin_fd, stdout_fd, child_in.fileno(), child_out.fileno()):
        widen_pipe(fd)

    def forward_signal(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, forward_signal)

    def close_stdout() -> None:
        os.close(stdout_fd)

    up = _forward(
        C2S, stdin_fd, child_in.fileno(), child_in.close, lambda: os.close(stdin_fd), sink
    )
    down = _forward(S2C, child_out.fileno(), stdout_fd, close_stdout, child_out.close, sink)
    try:
        code = proc.wait()
        down.join()
        up.join(EXIT_GRACE)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status = code if code >= 0 else 128 - code
    sink.close(status)
    return status, sink.error


def transcript_path(out: str, n: int) -> Path:
    """``--out`` for connection ``n``: a pattern with ``{n}``, or a directory."""
    if "{n" in out:
        try:
            return Path(out.format(n=n))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad --out pattern {out!r}: {exc}") from None
    return Path(out) / f"conn-{n:04d}.jsonl"


def _connect(address: str) -> socket.socket:
    family, addr = parse_address(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(addr)
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    if family != socket.AF_UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _proxy_connection(
    client: socket.socket,
    forward: str,
    path: Path,
    header: Header,
    full: Collection[Direction],
    log: Callable[[str], None],
) -> None:
    try:
        server = _connect(forward)
    except OSError as exc:
        log(f"connection to {forward} failed: {exc}; dropping the client")
        client.close()
        return
    writer = TranscriptWriter(path, replace(header, full=tuple(full), started=now_utc()))
    sink = RecordingSink(writer, full=full)

    def sender(sock: socket.socket) -> Callable[[bytes], None]:
        return sock.sendall

    up = _start(
        "c2s",
        lambda: _pump(
            C2S,
            client.recv,
            sender(server),
            lambda: server.shutdown(socket.SHUT_WR),
            lambda: client.shutdown(socket.SHUT_RD),
            sink,
        ),
    )
    down = _start(
        "s2c",
        lambda: _pump(
            S2C,
            server.recv,
            sender(client),
            lambda: client.shutdown(socket.SHUT_WR),
            lambda: server.shutdown(socket.SHUT_RD),
            sink,
        ),
    )
    up.join()
    down.join()
    client.close()
    server.close()
    sink.close(None)
    if sink.error:
        log(f"{path}: {sink.error}")


def proxy(
    listen: str,
    forward: str,
    out: str,
    *,
    header: Header,
    full: Collection[Direction] = (),
    count: int | None = None,
    ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Accept on ``listen``, forward each connection to ``forward``, record each to a file.

    Runs until ``count`` connections have ended, ``stop`` is set, or interrupted. Returns
    the number of connections recorded.
    """
    say = log or (lambda msg: print(f"zrepl-conformance record: {msg}", file=sys.stderr))
    if "{n" not in out and count != 1:
        Path(out).mkdir(parents=True, exist_ok=True)
    family, addr = parse_address(listen)
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(addr)
    lsock.listen(16)
    lsock.settimeout(0.1)
    bound = lsock.getsockname()
    where = f"tcp://{bound[0]}:{bound[1]}" if isinstance(bound, tuple) else f"unix:{bound}"
    if ready is not None:
        ready(where)
    threads: list[threading.Thread] = []
    n = 0
    try:
        while (stop is None or not stop.is_set()) and (count is None or n < count):
            try:
                client, _ = lsock.accept()
            except TimeoutError:
                continue
            n += 1
            client.settimeout(None)
            if family != socket.AF_UNIX:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            path = Path(out) if ("{n" not in out and count == 1) else transcript_path(out, n)
            h = replace(header, title=f"proxy {where} -> {forward}, connection {n}")
            threads.append(
                _start(
                    f"conn-{n}",
                    lambda c=client, p=path, h=h: _proxy_connection(c, forward, p, h, full, say),  # type: ignore[misc]
                )
            )
    finally:
        lsock.close()
        if family == socket.AF_UNIX and isinstance(addr, str):
            with contextlib.suppress(OSError):
                os.unlink(addr)
    deadline = time.monotonic() + 3600
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return n
