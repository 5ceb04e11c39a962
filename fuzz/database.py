"""Where campaigns keep Hypothesis's examples: a directory, or Redis for many machines.

``open_database(None)`` is a directory (``.hypothesis/fuzz`` under the current directory);
a path names another directory; ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``)
uses :class:`hypothesis.extra.redis.RedisExampleDatabase` so workers on several machines
share what they found. ``redis`` is optional and imported only here.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

__all__ = [
    "DATABASE_ENV",
    "DEFAULT_DIRECTORY",
    "DatabaseError",
    "describe",
    "differential_key",
    "open_database",
]

DATABASE_ENV: Final = "ZREPL_FUZZ_DATABASE"
"""How a campaign tells its target processes which database to use."""
DEFAULT_DIRECTORY: Final = Path(".hypothesis") / "fuzz"
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")


class DatabaseError(Exception):
    """The example database cannot be opened; the message says why and what to do."""


def is_redis(spec: str | None) -> bool:
    return bool(spec) and str(spec).startswith(_REDIS_SCHEMES)


def open_database(spec: str | None = None) -> ExampleDatabase:
    """The database ``spec`` names (see the module docstring); ``None`` reads
    :data:`DATABASE_ENV`, then falls back to the default directory."""
    spec = spec if spec is not None else os.environ.get(DATABASE_ENV) or None
    if is_redis(spec):
        assert spec is not None
        try:
            redis = importlib.import_module("redis")
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise DatabaseError(
                "the Redis example database needs the 'redis' package "
                "(pip install redis, or zrepl-conformance[fuzz-redis])"
            ) from None
        try:
            client = redis.Redis.from_url(spec)
            client.ping()
        except Exception as exc:
            raise DatabaseError(f"cannot reach Redis at {spec}: {exc}") from None
        return RedisExampleDatabase(client, key_prefix=b"zrepl-fuzz:")
    path = Path(spec) if spec else DEFAULT_DIRECTORY
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the example database {path}: {exc.strerror}") from None
    return DirectoryBasedExampleDatabase(str(path))


def describe(spec: str | None) -> str:
    if is_redis(spec):
        return f"Redis {spec}"
    return f"directory {Path(spec) if spec else DEFAULT_DIRECTORY}"


def differential_key(role: str, fixture: str, profile: Mapping[str, object], limit: int) -> bytes:
    """Where differential searches keep their disagreements: one key per role and per what
    shapes the generated inputs (the fixture's *content*, the profile, ``--max-steps``), so
    machines with the same setting share findings whatever their paths, and a stored input
    is never replayed into a search that would read it differently."""
    content = fixture.encode() if fixture == "demo" else Path(fixture).read_bytes()
    shape = json.dumps([role, profile, limit], sort_keys=True).encode()
    digest = hashlib.sha256(content + b"\0" + shape).hexdigest()[:32]
    return f"differential:{role}:{digest}".encode()
