"""The TOML description of an implementation under test, and command templates.

A description names up to three commands (``server`` required, ``pull`` and ``push``
optional), an optional ``check`` command run once before anything else, extra ``env``,
per-case ``exclude`` / ``expect_fail`` tables (case id → reason), an optional ``timeout`` in
seconds and an optional ``name``::

    name = "my-port"
    server = "my-zrepl stdinserver --identity {identity} --config {profile}"
    pull = "my-zrepl pull --config {profile} -- {connect}"
    timeout = 20
    [env]
    MYZREPL_LOG = "debug"
    [exclude]
    "client.pull.stall" = "no timeouts yet"

A command is a string split like a POSIX shell would (:func:`shlex.split`) or a list of
arguments. Placeholders are substituted *per argument*, after splitting, so a value with
spaces never splits an argument: ``{identity}``, ``{profile}`` (the profile JSON file),
``{state}`` (the fake ZFS state file) and ``{connect}`` (the command line that reaches the
server). An argument that is exactly ``{connect}`` becomes that command's several arguments;
``{connect}`` inside a longer argument becomes the command line quoted for a shell. Only
``{name}`` is a placeholder: any other brace is literal, so a JSON mapping can be written into a
command as is. In a description *file*, ``{here}`` is the file's own directory, substituted
when the file is read (so a description can ship beside its wrapper scripts). Unknown
placeholders and typos in keys are errors at load time,
reported with the file and the key, because a silently ignored key is a case that silently
tests the wrong thing.
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = [
    "PLACEHOLDERS",
    "REFERENCE_PULL",
    "REFERENCE_PUSH",
    "REFERENCE_SERVER",
    "IUTSpec",
    "SpecError",
    "load_spec",
    "parse_command",
    "reference_spec",
    "render_command",
    "render_text",
    "spec_from_server_cmd",
]

PLACEHOLDERS: Final = ("identity", "profile", "state", "connect")
"""Every placeholder a command may use."""

_COMMAND_KEYS: Final = ("server", "pull", "push")
_KNOWN_KEYS: Final = frozenset(
    {*_COMMAND_KEYS, "check", "name", "env", "exclude", "expect_fail", "timeout"}
)

REFERENCE_SERVER: Final[tuple[str, ...]] = (
    sys.executable,
    "-m",
    "zrepl_conformance",
    "serve",
    "--stdio",
    "--identity",
    "{identity}",
    "--profile",
    "{profile}",
)
"""Our own reference server, as a contract-conformant ``server`` command."""

REFERENCE_PULL: Final[tuple[str, ...]] = (
    sys.executable,
    "-m",
    "zrepl_conformance",
    "pull",
    "--profile",
    "{profile}",
    "--",
    "{connect}",
)
"""Our reference pull job (its mapping: the profile's ``pull_mapping``)."""

REFERENCE_PUSH: Final[tuple[str, ...]] = (
    sys.executable,
    "-m",
    "zrepl_conformance",
    "push",
    "--profile",
    "{profile}",
    "--",
    "{connect}",
)
"""Our reference push job (its filter: the profile's ``push_filter``)."""


class SpecError(Exception):
    """A description or command template is invalid; the text names file and key."""


@dataclass(frozen=True)
class IUTSpec:
    """A validated implementation description. Commands are argument templates."""

    server: tuple[str, ...]
    pull: tuple[str, ...] | None = None
    push: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    exclude: Mapping[str, str] = field(default_factory=dict)
    expect_fail: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    name: str = "iut"
    origin: str = "<memory>"
    """Where the description came from (a file path, ``--server-cmd`` or ``reference``)."""
    check: tuple[str, ...] | None = None
    """Run once before anything else (:func:`iut.preflight.preflight`); a non-zero exit
    means the implementation cannot start. No placeholders but ``{here}``."""

    @property
    def is_reference(self) -> bool:
        return self.origin == "reference"

    def profile_hint(self, role: str = "server") -> str | None:
        """A one-line caution when ``role``'s command may not see the profile, else ``None``.

        The suite, replay and the fuzzer configure an implementation only through
        ``{profile}`` (or ``ZREPL_CONFORMANCE_PROFILE``): a command that names neither runs
        with its own ACLs, sinks and mappings, so differences may come from there rather than
        from the protocol. Reported beside failures, never instead of them.
        """
        command = getattr(self, role, None)
        if command is None or self.is_reference:
            return None
        used = [*command, *self.env.values()]
        if any("{profile}" in a for a in used):
            return None
        return (
            f"note: the {role} command does not use {{profile}}: unless it reads "
            "$ZREPL_CONFORMANCE_PROFILE, it runs with its own ACLs, sinks and mappings, and a "
            "difference may come from there (add --profile {profile} or the equivalent)"
        )

    def command(self, role: str) -> tuple[str, ...]:
        """The template for ``server``, ``pull`` or ``push``; :class:`SpecError` if absent."""
        if role not in _COMMAND_KEYS:
            raise ValueError(f"unknown command role {role!r}")
        cmd: tuple[str, ...] | None = getattr(self, role)
        if cmd is None:
            raise SpecError(f"{self.origin}: no '{role}' command in this description")
        return cmd


# --------------------------------------------------------------------------- templates


_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``{name}``; every other brace is literal text (so JSON in a command needs no escaping)."""


def _check_template(arg: str, where: str) -> None:
    for m in _PLACEHOLDER.finditer(arg):
        if m.group(1) not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise SpecError(
                f"{where}: unknown placeholder {m.group(0)} in {arg!r} (known: {known})"
            )


def parse_command(value: object, where: str) -> tuple[str, ...]:
    """A command template from a string (shell-split) or a list of strings; validated."""
    if isinstance(value, str):
        try:
            args = shlex.split(value)
        except ValueError as exc:
            raise SpecError(f"{where}: cannot split command {value!r}: {exc}") from None
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        args = list(value)
    else:
        raise SpecError(f"{where}: must be a string or a list of strings")
    if not args:
        raise SpecError(f"{where}: empty command")
    for arg in args:
        _check_template(arg, where)
    return tuple(args)


def render_command(
    template: Sequence[str],
    values: Mapping[str, str | Sequence[str]],
    *,
    what: str = "command",
) -> list[str]:
    """Substitute placeholders per argument; ``connect`` values are argument lists.

    ``values`` maps placeholder names to strings, except ``connect`` which is an argv list
    (or a command-line string). A placeholder without a value is a :class:`SpecError` naming
    it and ``what``.
    """
    out: list[str] = []
    for arg in template:
        if arg == "{connect}":
            out.extend(_connect_argv(values, what))
        else:
            out.append(render_text(arg, values, what=what))
    return out


def render_text(text: str, values: Mapping[str, str | Sequence[str]], *, what: str) -> str:
    """Substitute placeholders in one string; ``{connect}`` becomes a quoted command line."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "connect":
            return shlex.join(_connect_argv(values, what))
        value = values.get(name)
        if value is None:
            raise SpecError(f"{what}: placeholder {{{name}}} has no value here")
        if not isinstance(value, str):
            raise SpecError(f"{what}: placeholder {{{name}}} must be a string")
        return value

    return _PLACEHOLDER.sub(fill, text)


def _connect_argv(values: Mapping[str, str | Sequence[str]], what: str) -> list[str]:
    connect = values.get("connect")
    if connect is None:
        raise SpecError(f"{what}: placeholder {{connect}} has no value here")
    if isinstance(connect, str):
        return shlex.split(connect)
    return list(connect)


# --------------------------------------------------------------------------- loading


def _string_table(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SpecError(f"{where}: must be a table of strings")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise SpecError(f"{where}.{k}: must be a string, got {type(v).__name__}")
        out[k] = v
    return out


def spec_from_mapping(data: Mapping[str, object], origin: str) -> IUTSpec:
    """Validate a parsed description (the TOML document as a dict)."""
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_KNOWN_KEYS))
        raise SpecError(f"{origin}: unknown key {unknown[0]!r} (allowed: {allowed})")
    if "server" not in data:
        raise SpecError(f"{origin}: missing required key 'server'")
    commands = {
        key: parse_command(data[key], f"{origin}: key '{key}'")
        for key in _COMMAND_KEYS
        if key in data
    }
    check = None
    if "check" in data:
        check = parse_command(data["check"], f"{origin}: key 'check'")
        used = [a for a in check if _PLACEHOLDER.search(a)]
        if used:
            raise SpecError(f"{origin}: key 'check': no placeholders here ({used[0]!r})")
    env = _string_table(data.get("env", {}), f"{origin}: key 'env'")
    for k, v in env.items():
        if not k or "=" in k or "\0" in k:
            raise SpecError(f"{origin}: key 'env': invalid variable name {k!r}")
        _check_template(v, f"{origin}: key 'env.{k}'")
    exclude = _string_table(data.get("exclude", {}), f"{origin}: key 'exclude'")
    expect_fail = _string_table(data.get("expect_fail", {}), f"{origin}: key 'expect_fail'")
    both = sorted(set(exclude) & set(expect_fail))
    if both:
        raise SpecError(f"{origin}: case {both[0]!r} is both in 'exclude' and 'expect_fail'")
    timeout = data.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise SpecError(f"{origin}: key 'timeout' must be a positive number of seconds")
        timeout = float(timeout)
    name = data.get("name", Path(origin).stem if origin.endswith(".toml") else "iut")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{origin}: key 'name' must be a non-empty string")
    return IUTSpec(
        server=commands["server"],
        pull=commands.get("pull"),
        push=commands.get("push"),
        env=env,
        exclude=exclude,
        expect_fail=expect_fail,
        timeout=timeout,
        name=name,
        origin=origin,
        check=check,
    )


def load_spec(path: str | Path) -> IUTSpec:
    """Read and validate a TOML description; every error is one :class:`SpecError` line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{p}: not UTF-8: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: invalid TOML: {exc}") from None
    return spec_from_mapping(_with_here(data, p.resolve().parent), str(p))


_HERE: Final = re.compile(r"(?<!\{)\{here\}(?!\})")


def _with_here(data: dict[str, object], here: Path) -> dict[str, object]:
    """``{here}`` in the commands and ``env`` of a description file: the file's directory.

    Substituted when the file is read, so a description can ship beside its scripts and
    still be used from anywhere (commands run in each case's own directory). In a command
    string the path is shell-quoted before the string is split.
    """

    def sub(value: object, quote: bool) -> object:
        if isinstance(value, str):
            return _HERE.sub(lambda _m: shlex.quote(str(here)) if quote else str(here), value)
        if isinstance(value, list):
            return [sub(v, False) for v in value]
        return value

    out = dict(data)
    for key in (*_COMMAND_KEYS, "check"):
        if key in out:
            out[key] = sub(out[key], True)
    env = out.get("env")
    if isinstance(env, dict):
        out["env"] = {k: sub(v, False) for k, v in env.items()}
    return out


def spec_from_server_cmd(cmd: str) -> IUTSpec:
    """``--server-cmd "CMD"``: a description with only ``server``."""
    return IUTSpec(
        server=parse_command(cmd, "--server-cmd"),
        name=Path(shlex.split(cmd)[0]).name if cmd.strip() else "iut",
        origin="--server-cmd",
    )


def reference_spec() -> IUTSpec:
    """Our own reference implementation, started like any other implementation."""
    return IUTSpec(
        server=REFERENCE_SERVER,
        pull=REFERENCE_PULL,
        push=REFERENCE_PUSH,
        name="reference",
        origin="reference",
    )
