"""Implementation processes started one trial ahead.

Starting a process (an interpreter, its imports, a fresh fake ZFS sandbox) costs more than
the trial it is used for, so both roles' runners keep the next process starting in a
background thread while the current trial runs. A start that fails is handed to whoever
takes that process, who reports it as the implementation failing to start.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from iut import Running

from .driver import run_in_thread

__all__ = ["Prefetcher"]

K = TypeVar("K", bound=Hashable)


class Prefetcher(Generic[K]):
    """One process kept starting ahead per key (a server, or each client job)."""

    def __init__(
        self,
        start: Callable[[K], Running],
        keys: Iterable[K],
        discard: Callable[[Running], object],
    ) -> None:
        self._start = start
        self._discard = discard
        self._ready: dict[K, queue.Queue[Running | BaseException]] = {
            k: queue.Queue() for k in keys
        }
        self._lock = threading.Lock()
        self._closed = False
        for key in self._ready:
            self._spawn(key)

    def _spawn(self, key: K) -> None:
        def work() -> None:
            try:
                item: Running | BaseException = self._start(key)
            except BaseException as exc:  # handed to the taker, who reports it
                item = exc
            self._ready[key].put(item)

        run_in_thread(work)

    def take(self, key: K) -> Running:
        """The process started for ``key`` (waiting for it); the next one starts now."""
        item = self._ready[key].get()
        with self._lock:
            if not self._closed:
                self._spawn(key)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop starting processes; discard the ones started ahead."""
        with self._lock:
            self._closed = True
        for ready in self._ready.values():
            with contextlib.suppress(BaseException):
                item = ready.get(timeout=30)
                if isinstance(item, Running):
                    self._discard(item)
