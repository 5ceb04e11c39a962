"""An independent model of what the reference server must answer, for stateful fuzzing.

The model is written from docs/PROTOCOL.md, not from the reference's code: its ACL follows
§mapping.glob / §mapping.direct / §mapping.single / §mapping.combo, its path check follows
§deviations.path-validation, and its transfer rules follow §handler.transfer and
§zfs.recv-rules as the fake implements them (a full send needs an existing snapshot; an
incremental one needs an existing source — snapshot or bookmark — created strictly before
an existing target snapshot of the same dataset). Where the reference and the model
disagree, one of them is wrong, and the stateful fuzzer says so.

The dataset state itself (names, GUIDs, CreateTXGs) is read from the fake once at the start;
from then on the model *predicts*, and after every step the fake's state must equal the
model's (nothing a refused request does may change it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bytestreamrpc.messages import DatasetPath, FilesystemVersion

__all__ = ["AclModel", "ZfsModel", "path_is_valid"]

_FORBIDDEN = frozenset("/@#| \t")


def path_is_valid(path: DatasetPath) -> bool:
    """§deviations.path-validation: non-empty, no empty component, no forbidden character."""
    return bool(path.components) and all(c and not (set(c) & _FORBIDDEN) for c in path.components)


@dataclass(frozen=True)
class AclModel:
    """Does a pull ACL (a mapping object in the config syntax) map a dataset?"""

    entries: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, str] | None) -> AclModel | None:
        return None if mapping is None else cls(tuple(mapping.items()))

    def maps(self, path: Sequence[str]) -> bool:
        for left, _right in self.entries:
            if left == "|":
                return True
            if left.endswith("*"):
                stem = left[:-1]
                prefix = stem.split("/") if stem else []
                if len(path) >= len(prefix) and list(path[: len(prefix)]) == prefix:
                    return True
            elif list(path) == (left.split("/") if left else []):
                return True
        return False


@dataclass
class ZfsModel:
    """Datasets in listing order and their versions, oldest first."""

    datasets: list[str]
    versions: dict[str, list[FilesystemVersion]] = field(default_factory=dict)

    @classmethod
    def read(cls, zfs: object) -> ZfsModel:
        """The fake's whole state in one traversal (``zfs list -r -t all`` order).

        Versions are sorted by CreateTXG per dataset, stably, which is exactly what
        ``list_versions`` (``-s createtxg``) answers.
        """
        listed = zfs.list(  # type: ignore[attr-defined]
            types=("filesystem", "volume", "snapshot", "bookmark"), recursive=True,
            properties=(),
        )  # fmt: skip
        names: list[str] = []
        versions: dict[str, list[FilesystemVersion]] = {}
        for item in listed:
            obj = item.object
            if obj.type in ("filesystem", "volume"):
                names.append(obj.name)
                versions[obj.name] = []
                continue
            cut = max(obj.name.find("@"), obj.name.find("#"))
            versions[obj.name[:cut]].append(
                FilesystemVersion(obj.type, obj.name[cut + 1 :], obj.guid, obj.createtxg)
            )
        for vs in versions.values():
            vs.sort(key=lambda v: v.create_txg)
        return cls(names, versions)

    def copy(self) -> ZfsModel:
        return ZfsModel(list(self.datasets), {k: list(v) for k, v in self.versions.items()})

    def find(self, dataset: str, vtype: str, name: str) -> FilesystemVersion | None:
        for v in self.versions.get(dataset, ()):
            if v.type == vtype and v.name == name:
                return v
        return None

    # -- predictions ------------------------------------------------------------------
    def listable(self, acl: AclModel | None) -> list[DatasetPath]:
        """§handler.fs: the ACL's datasets in listing order (no ACL: error 5)."""
        assert acl is not None
        return [DatasetPath(tuple(n.split("/"))) for n in self.datasets if acl.maps(n.split("/"))]

    def accessible(self, acl: AclModel | None, path: DatasetPath) -> str | None:
        """The dataset name if a request for ``path`` reaches ``zfs`` and finds it."""
        if acl is None or not path_is_valid(path) or not acl.maps(path.components):
            return None
        name = path.to_string()
        return name if name in self.versions else None

    def full_send(self, dataset: str, v: FilesystemVersion) -> FilesystemVersion | None:
        """The snapshot an InitialTransfer of ``v`` sends, or ``None`` (error 5)."""
        return self.find(dataset, "snapshot", v.name) if v.type == "snapshot" else None

    def incremental_send(
        self, dataset: str, a: FilesystemVersion, b: FilesystemVersion
    ) -> tuple[FilesystemVersion, FilesystemVersion] | None:
        """(source, target) of an IncrementalTransfer, or ``None`` (error 5)."""
        if a.type not in ("snapshot", "bookmark") or b.type != "snapshot":
            return None
        src, dst = self.find(dataset, a.type, a.name), self.find(dataset, "snapshot", b.name)
        if src is None or dst is None or src.create_txg >= dst.create_txg:
            return None
        return src, dst
