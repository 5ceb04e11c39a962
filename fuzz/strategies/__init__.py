"""Public Hypothesis strategies for ByteStreamRPC v1 (docs/FUZZING.md has examples).

Conventions follow Hypothesis: every argument is keyword-only (except the value a strategy
works on, such as the bytes to chunk), sizes are ``min_size``/``max_size``, and arguments are
checked when the strategy is *created*, raising ``hypothesis.errors.InvalidArgument``.

Typical use::

    from hypothesis import given
    from fuzz import strategies as zst

    @given(zst.go_json_texts(RequestHeader, validity="near-valid"))
    def test_header_errors(text): ...

    @given(zst.conversations(world=zst.World.from_zfs(my_fake_zfs)))
    def test_my_server(conversation): ...
"""

from .chunking import chunked_streams, chunkings
from .conversations import Conversation, Raw, Send, Step, World, conversations, request_steps
from .fixtures import dataset_trees, fixtures, pool_names
from .gojson import VALIDITIES, go_json_encodings, go_json_texts, go_type_for, go_values
from .mappings import MAPPING_KINDS, mappings, profiles
from .messages import (
    REQUEST_TYPES,
    close_requests,
    filesystem_requests,
    filesystem_versions_requests,
    filesystems_bodies,
    incremental_transfer_requests,
    initial_transfer_requests,
    protocol_version_requests,
    pull_me_requests,
    request_bodies,
    request_headers,
    request_ids,
    response_bodies,
    response_headers,
    versions_bodies,
)
from .names import (
    COMPONENT_ALPHABET,
    dataset_components,
    dataset_paths,
    near_valid_dataset_paths,
    version_names,
)
from .transcripts import byte_mutations, client_bytes, golden_client_sides, transcript_mutations
from .versions import (
    MAX_UINT64,
    VERSION_TYPES,
    filesystem_versions,
    guids,
    near_valid_filesystem_versions,
    version_lists,
)

__all__ = [
    "COMPONENT_ALPHABET",
    "MAPPING_KINDS",
    "MAX_UINT64",
    "REQUEST_TYPES",
    "VALIDITIES",
    "VERSION_TYPES",
    "Conversation",
    "Raw",
    "Send",
    "Step",
    "World",
    "byte_mutations",
    "chunked_streams",
    "chunkings",
    "client_bytes",
    "close_requests",
    "conversations",
    "dataset_components",
    "dataset_paths",
    "dataset_trees",
    "filesystem_requests",
    "filesystem_versions",
    "filesystem_versions_requests",
    "filesystems_bodies",
    "fixtures",
    "go_json_encodings",
    "go_json_texts",
    "go_type_for",
    "go_values",
    "golden_client_sides",
    "guids",
    "incremental_transfer_requests",
    "initial_transfer_requests",
    "mappings",
    "near_valid_dataset_paths",
    "near_valid_filesystem_versions",
    "pool_names",
    "profiles",
    "protocol_version_requests",
    "pull_me_requests",
    "request_bodies",
    "request_headers",
    "request_ids",
    "request_steps",
    "response_bodies",
    "response_headers",
    "transcript_mutations",
    "version_lists",
    "version_names",
    "versions_bodies",
]
