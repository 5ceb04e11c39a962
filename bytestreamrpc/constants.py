"""Wire constants of ByteStreamRPC v1 (docs/PROTOCOL.md §msg.constants).

Values are the ones of the original Go ``rpc`` package; they are ``IntEnum`` so
they print with a name in reports yet compare equal to the raw numbers that
arrive on the wire (an unknown request type is still a valid ``int``).
"""

from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 1
"""The only protocol version (``ByteStreamRPCProtocolVersion``)."""

CHUNK_HEADER_SIZE = 4
"""Every chunk starts with a 4-byte little-endian unsigned length."""

MAX_WRITE_PAYLOAD = 32764
"""The original writer's 32 KiB buffer includes the 4-byte header."""

MAX_DECLARED_CHUNK = 2**32 - 1
"""Receivers must accept any declared length up to this."""

LOCAL_TRANSPORT_IDENTITY = "local"
"""Reserved identity of the in-process transport; pull-me refuses it."""

ZERO_REQUEST_ID = bytes(16)
"""The original client never implemented request UUIDs: it sends 16 zeros."""

INITIAL_REPL_POLICY_MOST_RECENT = "most_recent"
INITIAL_REPL_POLICY_ALL = "all"


class RequestType(IntEnum):
    """``RequestHeader.Type`` values."""

    PROTOCOL_VERSION = 0x01
    FILESYSTEM = 0x10
    FILESYSTEM_VERSIONS = 0x11
    INITIAL_TRANSFER = 0x12
    INCREMENTAL_TRANSFER = 0x13
    PULL_ME = 0x20
    CLOSE = 0xF0


class ResponseType(IntEnum):
    """``ResponseHeader.ResponseType`` values."""

    NONE = 0x00
    OK = 0x01
    FILESYSTEMS = 0x10
    FILESYSTEM_DIFF = 0x11
    CHUNKED_STREAM = 0x20


class ErrorId(IntEnum):
    """``ResponseHeader.ErrorId`` values."""

    NONE = 0
    DECODE_HEADER = 1
    UNKNOWN_REQUEST_TYPE = 2
    DECODE_REQUEST_BODY = 3
    PROTOCOL_VERSION_MISMATCH = 4
    HANDLER = 5
