"""``{connect}`` ends the way ``ssh`` ends (:mod:`iut.relay`).

The original's client reads its server through ``ssh`` and, at end of input, waits for the
``ssh`` process to exit while its own output is still open. These tests play that client
against the relay with the suite's side scripted: the relay must exit once the suite has
closed completely, must not exit on a half close, and must carry every byte either side
wrote before the other stopped reading.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iut.connect import ConnectListener, connect_command
from iut.relay import open_socket

WAIT = 10.0


class OriginalLikeClient:
    """The relay as a child process with pipes, used the way ``util.IOCommand`` used ssh."""

    def __init__(self, address: str) -> None:
        self.proc = subprocess.Popen(
            connect_command(address),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin
        self.stdout = self.proc.stdout

    def send(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def read_to_eof(self) -> bytes:
        out = bytearray()
        while chunk := os.read(self.stdout.fileno(), 65536):
            out += chunk
        return bytes(out)

    def exited_within(self, seconds: float) -> bool:
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[ConnectListener]:
    """A Unix socket the relay connects to: the suite's end."""
    with ConnectListener(tmp_path) as lst:
        yield lst


@pytest.fixture
def client(listener: ConnectListener) -> Iterator[OriginalLikeClient]:
    """The relay started like the original's ssh, connected to ``listener``."""
    c = OriginalLikeClient(listener.address)
    yield c
    c.kill()


def _recv_all(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT)
    out = bytearray()
    while chunk := sock.recv(65536):
        out += chunk
    return bytes(out)


def test_relay_exits_when_the_suite_closes_although_its_stdin_stays_open(
    listener: ConnectListener, client: OriginalLikeClient
) -> None:
    suite = listener.accept(WAIT)
    payload = os.urandom(300_000)
    suite.write(payload, WAIT)
    suite.close()
    assert client.read_to_eof() == payload
    # the client keeps its output open and waits for the command, as the original does
    assert client.exited_within(5.0), "the relay waited for its stdin instead of exiting"
    assert client.proc.returncode == 0


def test_a_half_close_by_the_suite_keeps_the_client_to_suite_direction(
    listener: ConnectListener, client: OriginalLikeClient
) -> None:
    suite = listener.accept(WAIT)
    suite.write(b"answer", WAIT)
    suite.close_write()
    assert client.read_to_eof() == b"answer"
    assert not client.exited_within(0.5), "a half close is not the end of the channel"
    client.send(b"late request")
    client.stdin.close()
    got = bytearray()
    while chunk := suite.read(65536, WAIT):
        got += chunk
    assert bytes(got) == b"late request"
    suite.close()
    assert client.exited_within(5.0)


def test_end_of_the_clients_output_reaches_the_suite_and_the_suite_still_answers(
    listener: ConnectListener, client: OriginalLikeClient
) -> None:
    suite = listener.accept(WAIT)
    client.send(b"request")
    client.stdin.close()
    got = bytearray()
    while chunk := suite.read(65536, WAIT):
        got += chunk
    assert bytes(got) == b"request"
    suite.write(b"response after the client's end of output", WAIT)
    suite.close()
    assert client.read_to_eof() == b"response after the client's end of output"
    assert client.exited_within(5.0)


def test_bytes_written_just_before_the_client_exits_are_not_lost(
    listener: ConnectListener,
) -> None:
    # The race fixed earlier: the client's last bytes and its end of output arrive together;
    # the suite reads them all before it closes.
    for _round in range(20):
        c = OriginalLikeClient(listener.address)
        try:
            suite = listener.accept(WAIT)
            tail = os.urandom(70_000)
            c.send(tail)
            c.stdin.close()
            got = bytearray()
            while chunk := suite.read(65536, WAIT):
                got += chunk
            assert bytes(got) == tail
            suite.close()
            assert c.exited_within(5.0)
        finally:
            c.kill()


def test_tcp_addresses_relay_both_ways() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        seen.append(_recv_all(conn))
        conn.sendall(b"pong")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    c = OriginalLikeClient(f"tcp://127.0.0.1:{port}")
    try:
        c.send(b"ping")
        c.stdin.close()
        assert c.read_to_eof() == b"pong"
        assert c.exited_within(5.0)
        thread.join(WAIT)
        assert seen == [b"ping"]
    finally:
        c.kill()
        server.close()


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        ([], 2, "usage: relay.py"),
        (["ftp://x"], 1, "an address is unix:PATH or tcp://HOST:PORT"),
        (["tcp://nohostport"], 1, "not HOST:PORT"),
        (["unix:/nonexistent/zrepl.sock"], 1, "cannot connect to unix:/nonexistent/zrepl.sock"),
    ],
)
def test_bad_addresses_are_one_line(argv: list[str], code: int, fragment: str) -> None:
    relay = connect_command("x")[:-1]
    proc = subprocess.run(
        [*relay, *argv],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == code
    assert fragment in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_open_socket_refuses_a_closed_port() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    start = time.monotonic()
    with pytest.raises(OSError):
        open_socket(f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - start < WAIT
