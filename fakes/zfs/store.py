"""SQLite storage of the fake ZFS: schema, connections, transactions, GUID helpers.

Why SQLite for both the in-process model and the command-line state: one engine, one code
path. With ``:memory:`` it is a fast private model; with a file it is the shared state of many
``fake-zfs`` processes, and SQLite's locking makes every command one atomic transaction
(``BEGIN IMMEDIATE`` for writers, a deferred read transaction for readers, a busy timeout for
waiting). The default rollback journal is used rather than WAL so that ``fake-zfs init`` can
atomically replace a state file without stale ``-wal`` files around.

GUIDs are unsigned 64-bit but SQLite integers are signed, so they are stored shifted into the
signed range by :func:`guid_to_db` / :func:`guid_from_db` (a bijection).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from typing import Final

from .errors import StateError

__all__ = [
    "FORMAT_NAME",
    "SCHEMA_VERSION",
    "GuidDeriver",
    "connect",
    "create_indexes",
    "derive_guid",
    "guid_from_db",
    "guid_to_db",
    "init_schema",
    "read_txn",
    "verify_schema",
    "write_txn",
]

FORMAT_NAME: Final = "fake-zfs-state"
SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE pools(
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    next_txg INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE datasets(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    pool TEXT NOT NULL,
    parent INTEGER,
    type INTEGER NOT NULL,          -- 0 filesystem, 1 volume
    guid INTEGER NOT NULL,
    createtxg INTEGER NOT NULL,
    creation INTEGER NOT NULL,
    referenced INTEGER NOT NULL,    -- bytes the live dataset references
    written INTEGER NOT NULL,       -- bytes written since its newest snapshot
    volsize INTEGER,
    mounted INTEGER NOT NULL
);
CREATE TABLE versions(
    id INTEGER PRIMARY KEY,
    dataset INTEGER NOT NULL,
    kind INTEGER NOT NULL,          -- 0 snapshot, 1 bookmark
    name TEXT NOT NULL,             -- short name (after @ or #)
    guid INTEGER NOT NULL,
    createtxg INTEGER NOT NULL,
    creation INTEGER NOT NULL,
    referenced INTEGER NOT NULL,
    written INTEGER NOT NULL        -- bytes written between the previous snapshot and this one
);
CREATE TABLE orphan_writes(
    dataset INTEGER NOT NULL,
    txg INTEGER NOT NULL,           -- createtxg of a destroyed snapshot
    bytes INTEGER NOT NULL          -- the bytes it had written (still part of increments)
);
CREATE TABLE dataset_props(
    dataset INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY(dataset, name)
) WITHOUT ROWID;
CREATE TABLE version_props(
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY(version, name)
) WITHOUT ROWID;
"""

#: Created after a fixture is bulk-loaded (inserting into indexed tables is much slower).
INDEXES: Final = (
    "CREATE INDEX datasets_by_parent ON datasets(parent)",
    "CREATE UNIQUE INDEX versions_by_name ON versions(dataset, kind, name)",
    # Covering index for the hot listing (name, guid, createtxg by createtxg).
    "CREATE INDEX versions_by_txg ON versions(dataset, createtxg, kind, name, guid)",
    "CREATE INDEX orphan_writes_by_txg ON orphan_writes(dataset, txg)",
)

_SHIFT: Final = 1 << 63


def guid_to_db(guid: int) -> int:
    """Map an unsigned 64-bit GUID into SQLite's signed integer range (order-preserving)."""
    return guid - _SHIFT


def guid_from_db(value: int) -> int:
    """Inverse of :func:`guid_to_db`."""
    return value + _SHIFT


def derive_guid(seed: int, label: str) -> int:
    """A stable non-zero 64-bit GUID for ``label`` under ``seed``."""
    return GuidDeriver(seed)(label)


class GuidDeriver:
    """:func:`derive_guid` for one seed, fast enough for a million names (keyed BLAKE2b)."""

    __slots__ = ("_base",)

    def __init__(self, seed: int) -> None:
        key = hashlib.blake2b(str(seed).encode(), digest_size=32).digest()
        self._base = hashlib.blake2b(digest_size=8, key=key)

    def __call__(self, label: str) -> int:
        h = self._base.copy()
        h.update(label.encode("utf-8", "surrogateescape"))
        return int.from_bytes(h.digest(), "little") or 1


def connect(path: str | os.PathLike[str], *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open a connection in manual-transaction mode (the caller issues ``BEGIN``)."""
    conn = sqlite3.connect(
        os.fspath(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create the indexes (after bulk loading)."""
    for statement in INDEXES:
        conn.execute(statement)


def init_schema(conn: sqlite3.Connection, *, seed: int) -> None:
    """Create the tables (not yet the indexes) and record format, version and seed."""
    # Not executescript(): it would commit the caller's open transaction.
    for statement in _SCHEMA.split(";"):
        lines = [ln.split("--")[0] for ln in statement.splitlines()]
        sql = "\n".join(lines).strip()
        if sql:
            conn.execute(sql)
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [
            ("format", FORMAT_NAME),
            ("version", str(SCHEMA_VERSION)),
            ("seed", str(seed)),
            ("guid_counter", "0"),
        ],
    )


def verify_schema(conn: sqlite3.Connection, label: str) -> None:
    """Raise :class:`StateError` unless ``conn`` holds a fake-zfs state of our version."""
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise StateError(f"fake-zfs: state file '{label}' is not a fake-zfs state: {exc}") from exc
    if rows.get("format") != FORMAT_NAME:
        raise StateError(f"fake-zfs: state file '{label}' is not a fake-zfs state")
    if rows.get("version") != str(SCHEMA_VERSION):
        raise StateError(
            f"fake-zfs: state file '{label}' has version {rows.get('version')!s}, "
            f"expected {SCHEMA_VERSION}; run 'fake-zfs init' again"
        )


@contextlib.contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken immediately so concurrent writers queue up."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def read_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: a consistent view for the duration of a command."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
