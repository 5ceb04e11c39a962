"""The typed messages of ByteStreamRPC v1 and their Go type descriptors.

Each message is a frozen dataclass mirroring one Go struct of the original ``rpc`` package
(or ``zfs.DatasetPath`` / ``zfs.FilesystemVersion``). The descriptors next to them give
:mod:`bytestreamrpc.gojson` the Go names, field order and field types it needs to produce
Go's exact bytes and Go's exact decode-error texts (``cannot decode *rpc.X: ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from . import gojson
from .constants import PROTOCOL_VERSION, RequestType
from .gojson import GoBool, GoByteArray, GoField, GoSlice, GoString, GoStruct, GoType, GoUint

__all__ = [
    "BODY_CLASS_OF",
    "DATASET_PATH_TYPE",
    "FILESYSTEMS_POINTER",
    "FILESYSTEMS_TYPE",
    "FILESYSTEM_VERSION_TYPE",
    "POINTER_NAME_OF",
    "REQUEST_TYPE_OF",
    "VERSIONS_POINTER",
    "VERSIONS_TYPE",
    "CloseRequest",
    "DatasetPath",
    "FilesystemRequest",
    "FilesystemVersion",
    "FilesystemVersionsRequest",
    "IncrementalTransferRequest",
    "InitialTransferRequest",
    "ProtocolVersionRequest",
    "PullMeRequest",
    "RequestBody",
    "RequestHeader",
    "ResponseHeader",
    "decode_filesystems",
    "decode_message",
    "decode_versions",
    "encode_filesystems",
    "encode_message",
    "encode_versions",
    "go_type_of",
]

DATASET_PATH_FORBIDDEN: Final = "@#|\t "
"""Characters the original ``zfs.NewDatasetPath`` rejects."""


# --------------------------------------------------------------------------- zfs types


@dataclass(frozen=True, slots=True)
class DatasetPath:
    """``zfs.DatasetPath``: a dataset name as its ``/``-separated components."""

    components: tuple[str, ...] = ()

    @classmethod
    def from_string(cls, s: str) -> DatasetPath:
        """``zfs.NewDatasetPath``: ``""`` is the empty path; forbidden characters raise."""
        if s == "":
            return cls(())
        if any(c in DATASET_PATH_FORBIDDEN for c in s):
            raise ValueError(
                f"path '{s}' contains forbidden characters (any of '{DATASET_PATH_FORBIDDEN}')"
            )
        return cls(tuple(s.split("/")))

    def to_string(self) -> str:
        return "/".join(self.components)

    __str__ = to_string

    def is_empty(self) -> bool:
        return not self.components


_DELIMITER: Final = {"snapshot": "@", "bookmark": "#"}


@dataclass(frozen=True, slots=True)
class FilesystemVersion:
    """``zfs.FilesystemVersion``: a snapshot or bookmark as listed by ``zfs list``.

    ``type`` is ``"snapshot"`` or ``"bookmark"`` on the wire, but decoding accepts any string
    (Go's ``zfs.VersionType`` is a plain string type).
    """

    type: str
    name: str
    guid: int
    create_txg: int

    def _delimiter(self) -> str:
        try:
            return _DELIMITER[self.type]
        except KeyError:
            # The original panicked: panic(fmt.Sprintf("unexpected VersionType %#v", t)).
            raise ValueError(f"unexpected VersionType {self.type!r}") from None

    def to_abs_path(self, fs: DatasetPath) -> str:
        """``pool/fs@name`` for a snapshot, ``pool/fs#name`` for a bookmark."""
        return fs.to_string() + self._delimiter() + self.name

    def relname(self) -> str:
        """``@name`` or ``#name``."""
        return self._delimiter() + self.name


# --------------------------------------------------------------------------- rpc types


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """``rpc.RequestHeader``; ``type`` is an ``int`` so unknown (in-range) types survive."""

    type: int
    id: bytes = bytes(16)


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """``rpc.ResponseHeader``."""

    request_id: bytes = bytes(16)
    error_id: int = 0
    message: str = ""
    response_type: int = 0


@dataclass(frozen=True, slots=True)
class ProtocolVersionRequest:
    """``rpc.ByteStreamRPCProtocolVersionRequest``."""

    client_version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class FilesystemRequest:
    """``rpc.FilesystemRequest``; ``None`` roots (JSON ``null``) means all filesystems."""

    roots: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FilesystemVersionsRequest:
    """``rpc.FilesystemVersionsRequest``."""

    filesystem: DatasetPath = DatasetPath()


_ZERO_VERSION: Final = FilesystemVersion("", "", 0, 0)


@dataclass(frozen=True, slots=True)
class InitialTransferRequest:
    """``rpc.InitialTransferRequest``."""

    filesystem: DatasetPath = DatasetPath()
    filesystem_version: FilesystemVersion = _ZERO_VERSION


@dataclass(frozen=True, slots=True)
class IncrementalTransferRequest:
    """``rpc.IncrementalTransferRequest`` (JSON keys ``Filesystem``, ``From``, ``To``)."""

    filesystem: DatasetPath = DatasetPath()
    from_version: FilesystemVersion = _ZERO_VERSION
    to_version: FilesystemVersion = _ZERO_VERSION


@dataclass(frozen=True, slots=True)
class PullMeRequest:
    """``rpc.PullMeRequest``; when ``finished`` the other field is meaningless."""

    finished: bool = False
    initial_repl_policy: str = ""


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """``rpc.CloseRequest``."""

    goodbye: str = ""


RequestBody = (
    ProtocolVersionRequest
    | FilesystemRequest
    | FilesystemVersionsRequest
    | InitialTransferRequest
    | IncrementalTransferRequest
    | PullMeRequest
    | CloseRequest
)

REQUEST_TYPE_OF: Final[dict[type, RequestType]] = {
    ProtocolVersionRequest: RequestType.PROTOCOL_VERSION,
    FilesystemRequest: RequestType.FILESYSTEM,
    FilesystemVersionsRequest: RequestType.FILESYSTEM_VERSIONS,
    InitialTransferRequest: RequestType.INITIAL_TRANSFER,
    IncrementalTransferRequest: RequestType.INCREMENTAL_TRANSFER,
    PullMeRequest: RequestType.PULL_ME,
    CloseRequest: RequestType.CLOSE,
}
"""The original's ``inferRequestType``."""

BODY_CLASS_OF: Final[dict[RequestType, type]] = {v: k for k, v in REQUEST_TYPE_OF.items()}


# --------------------------------------------------------------------------- descriptors


def _struct(go_name: str, cls: type, fields: Sequence[tuple[str, GoType, str]]) -> GoStruct:
    attrs = tuple(attr for _, _, attr in fields)

    def build(values: dict[str, object]) -> object:
        return cls(**values)

    def read(obj: object) -> dict[str, object]:
        if type(obj) is not cls:
            raise TypeError(f"expected {cls.__name__}, got {type(obj).__name__}")
        return {a: getattr(obj, a) for a in attrs}

    return GoStruct(go_name, tuple(GoField(n, t, a) for n, t, a in fields), build, read)


def _path_build(items: tuple[object, ...] | None) -> object:
    return DatasetPath(items or ())  # type: ignore[arg-type]


def _path_read(p: object) -> tuple[object, ...] | None:
    if type(p) is not DatasetPath:
        raise TypeError(f"expected DatasetPath, got {type(p).__name__}")
    return p.components


_STRING: Final = GoString()
_UINT64: Final = GoUint(64, "uint64")
DATASET_PATH_TYPE: Final = GoSlice(_STRING, "zfs.DatasetPath", _path_build, _path_read)
FILESYSTEM_VERSION_TYPE: Final = _struct(
    "zfs.FilesystemVersion",
    FilesystemVersion,
    [
        ("Type", GoString("zfs.VersionType"), "type"),
        ("Name", _STRING, "name"),
        ("Guid", _UINT64, "guid"),
        ("CreateTXG", _UINT64, "create_txg"),
    ],
)
FILESYSTEMS_TYPE: Final = GoSlice(DATASET_PATH_TYPE, "[]zfs.DatasetPath")
VERSIONS_TYPE: Final = GoSlice(FILESYSTEM_VERSION_TYPE, "[]zfs.FilesystemVersion")

_GO_TYPES: Final[dict[type, GoType]] = {
    RequestHeader: _struct(
        "rpc.RequestHeader",
        RequestHeader,
        [
            ("Type", GoUint(8, "rpc.RequestType"), "type"),
            ("Id", GoByteArray(16, "[16]uint8"), "id"),
        ],
    ),
    ResponseHeader: _struct(
        "rpc.ResponseHeader",
        ResponseHeader,
        [
            ("RequestId", GoByteArray(16, "rpc.RequestId"), "request_id"),
            ("ErrorId", GoUint(8, "rpc.ErrorId"), "error_id"),
            ("Message", _STRING, "message"),
            ("ResponseType", GoUint(8, "rpc.ResponseType"), "response_type"),
        ],
    ),
    ProtocolVersionRequest: _struct(
        "rpc.ByteStreamRPCProtocolVersionRequest",
        ProtocolVersionRequest,
        [("ClientVersion", GoUint(8, "uint8"), "client_version")],
    ),
    FilesystemRequest: _struct(
        "rpc.FilesystemRequest",
        FilesystemRequest,
        [("Roots", GoSlice(_STRING, "[]string"), "roots")],
    ),
    FilesystemVersionsRequest: _struct(
        "rpc.FilesystemVersionsRequest",
        FilesystemVersionsRequest,
        [("Filesystem", DATASET_PATH_TYPE, "filesystem")],
    ),
    InitialTransferRequest: _struct(
        "rpc.InitialTransferRequest",
        InitialTransferRequest,
        [
            ("Filesystem", DATASET_PATH_TYPE, "filesystem"),
            ("FilesystemVersion", FILESYSTEM_VERSION_TYPE, "filesystem_version"),
        ],
    ),
    IncrementalTransferRequest: _struct(
        "rpc.IncrementalTransferRequest",
        IncrementalTransferRequest,
        [
            ("Filesystem", DATASET_PATH_TYPE, "filesystem"),
            ("From", FILESYSTEM_VERSION_TYPE, "from_version"),
            ("To", FILESYSTEM_VERSION_TYPE, "to_version"),
        ],
    ),
    PullMeRequest: _struct(
        "rpc.PullMeRequest",
        PullMeRequest,
        [
            ("Finished", GoBool(), "finished"),
            ("InitialReplPolicy", GoString("rpc.InitialReplPolicy"), "initial_repl_policy"),
        ],
    ),
    CloseRequest: _struct("rpc.CloseRequest", CloseRequest, [("Goodbye", _STRING, "goodbye")]),
    DatasetPath: DATASET_PATH_TYPE,
    FilesystemVersion: FILESYSTEM_VERSION_TYPE,
}

POINTER_NAME_OF: Final[dict[type, str]] = {cls: "*" + t.go_name for cls, t in _GO_TYPES.items()}
"""``reflect.TypeOf(&v)`` as the original prints it in ``cannot decode <type>: ...``."""

FILESYSTEMS_POINTER: Final = "*[]zfs.DatasetPath"
VERSIONS_POINTER: Final = "*[]zfs.FilesystemVersion"


def go_type_of(cls: type) -> GoType:
    """The Go descriptor of a message class (``KeyError`` for anything else)."""
    return _GO_TYPES[cls]


# --------------------------------------------------------------------------- codec API

T = TypeVar("T")


def _encode_uncached(msg: object) -> bytes:
    try:
        t = _GO_TYPES[type(msg)]
    except KeyError:
        raise TypeError(f"not a ByteStreamRPC message: {type(msg).__name__}") from None
    return gojson.encode(msg, t)


_ENCODE_MEMO: dict[object, bytes] = {}
_ENCODE_MEMO_MAX: Final = 4096


def encode_message(msg: object) -> bytes:
    """Go ``Encoder.Encode`` bytes (trailing ``\\n`` included) of any message dataclass.

    Messages are immutable and hashable and their bytes are a pure function of them, so
    results are memoised (bounded). Only successfully encoded (hence well-typed) messages are
    stored; a later lookup with an ``==``-equal but ill-typed value (``True`` for ``1``) gets
    the well-typed bytes instead of an error.
    """
    try:
        out = _ENCODE_MEMO.get(msg)
    except TypeError:  # an unhashable field (e.g. a list): no memo
        return _encode_uncached(msg)
    if out is None:
        out = _encode_uncached(msg)
        if len(_ENCODE_MEMO) < _ENCODE_MEMO_MAX:
            _ENCODE_MEMO[msg] = out
    return out


def decode_message(cls: type[T], data: bytes, *, truncated: bool = False) -> T:
    """Decode one message of class ``cls`` from the unchunked bytes of its chunked stream.

    Raises :class:`~bytestreamrpc.errors.DecodeError` whose text is exactly the original's
    ``ResponseHeader.Message`` (e.g. ``cannot decode *rpc.RequestHeader: EOF``).
    """
    t = _GO_TYPES[cls]
    value = gojson.decode_message_bytes(
        data, t, pointer_name=POINTER_NAME_OF[cls], truncated=truncated
    )
    assert isinstance(value, cls)
    return value


def encode_filesystems(paths: Sequence[DatasetPath] | None) -> bytes:
    """The Filesystems response body: Go ``[]zfs.DatasetPath`` (``None`` -> ``null``)."""
    return gojson.encode(None if paths is None else tuple(paths), FILESYSTEMS_TYPE)


def decode_filesystems(data: bytes, *, truncated: bool = False) -> tuple[DatasetPath, ...] | None:
    """Decode a Filesystems body as the original client does (into ``*[]zfs.DatasetPath``)."""
    value = gojson.decode_message_bytes(
        data, FILESYSTEMS_TYPE, pointer_name=FILESYSTEMS_POINTER, truncated=truncated
    )
    return value  # type: ignore[return-value]


def encode_versions(versions: Sequence[FilesystemVersion] | None) -> bytes:
    """The FilesystemDiff response body: Go ``[]zfs.FilesystemVersion``."""
    return gojson.encode(None if versions is None else tuple(versions), VERSIONS_TYPE)


def decode_versions(
    data: bytes, *, truncated: bool = False
) -> tuple[FilesystemVersion, ...] | None:
    """Decode a FilesystemDiff body (into ``*[]zfs.FilesystemVersion``)."""
    value = gojson.decode_message_bytes(
        data, VERSIONS_TYPE, pointer_name=VERSIONS_POINTER, truncated=truncated
    )
    return value  # type: ignore[return-value]
