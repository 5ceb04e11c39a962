"""Starting an implementation under test exactly as the conformance contract says.

The contract (docs/CONFORMANCE.md, "The implementation-under-test contract"): an
implementation is a TOML description (:mod:`iut.spec`) whose ``server`` command serves one
connection on its stdin/stdout and whose optional ``pull`` / ``push`` commands reach a server
through ``{connect}`` (:mod:`iut.connect`, the ssh-faithful :mod:`iut.relay`). Every
process gets a fresh sandbox (:mod:`iut.sandbox`): its own fake ZFS state built from the
case's fixture, a ``zfs`` command that is ``fake-zfs`` first on ``PATH``, and the profile
JSON in
``ZREPL_CONFORMANCE_PROFILE``. :mod:`iut.process` starts the process, hands out its stdio as
a transport, captures stderr, enforces a timeout on the whole process group, and reports exit
code 89 as *unimplemented*. :mod:`iut.launcher` puts these together in one call, with one
hook, how the process is created: exec'd (:func:`launch`), or forked from a fork server that
imported a Python implementation once (:mod:`iut.forkserver`, not imported here: it is also
the fork server's own ``python -m`` entry point).

This package is the one place that knows how to start an implementation; the recordings
replay engine, ``golden check`` and the conformance suite all go through it. It depends only
on :mod:`bytestreamrpc` (for transports) and the ``fake-zfs`` command.
"""

from .connect import ConnectListener, connect_command
from .launcher import DEFAULT_TIMEOUT, Running, start_client, start_server
from .preflight import preflight
from .process import UNIMPLEMENTED_EXIT, ExitStatus, IUTProcess, Spawn, launch
from .sandbox import BUILTIN_FIXTURE, PROFILE_ENV, STATE_ENV, FixtureCache, IUTError, Sandbox
from .spec import (
    IUTSpec,
    SpecError,
    load_spec,
    reference_spec,
    render_command,
    spec_from_server_cmd,
)

__all__ = [
    "BUILTIN_FIXTURE",
    "DEFAULT_TIMEOUT",
    "PROFILE_ENV",
    "STATE_ENV",
    "UNIMPLEMENTED_EXIT",
    "ConnectListener",
    "ExitStatus",
    "FixtureCache",
    "IUTError",
    "IUTProcess",
    "IUTSpec",
    "Running",
    "Sandbox",
    "Spawn",
    "SpecError",
    "connect_command",
    "launch",
    "load_spec",
    "preflight",
    "reference_spec",
    "render_command",
    "spec_from_server_cmd",
    "start_client",
    "start_server",
]
