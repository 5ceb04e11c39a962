"""Stateful fuzzing of our server: a client conversation checked step by step against a model.

:class:`StatefulHarness` runs the reference :class:`~bytestreamrpc.server.Server` (reference
handler over an in-memory fake ZFS) in a thread on one end of an in-memory pair and our
:class:`~bytestreamrpc.client.Client` on the other. Each action sends one request (or some
garbage) and checks the answer against :class:`fuzz.model.ZfsModel` and
:class:`fuzz.model.AclModel`:

* every answer is exactly the model's (listing, versions, send-stream identity);
* nothing outside the pull ACL is ever listed, versioned or sent (ACL safety);
* a refused request is refused with the documented error id and the documented ending
  (close / return / continue, docs/PROTOCOL.md §server.summary), and changes nothing: after
  every action the fake's state equals the model's (a full comparison whenever any row of
  the fake changed, :meth:`StatefulHarness.check_state`);
* a push (pull-me) only ever creates data below the sink's target, made of snapshots the
  pusher's filter lets out.

Three drivers share the harness, the actions and the checks (:func:`perform`): the
Hypothesis ``RuleBasedStateMachine`` :class:`ServerConversation` (the test suite), one
``st.data()`` drawing a whole run (:func:`run_drawn_actions`, which the ``stateful`` fuzz
target hands to atheris through ``fuzz_one_input``), and a seeded ``random.Random``
(:func:`run_random_actions`, bulk runs without shrinking).

The jobs live in their own modules, re-exported here: :mod:`fuzz.stateful_setup` (what a
run starts from), :mod:`fuzz.stateful_harness` (the conversation, its actions and checks),
:mod:`fuzz.stateful_choices` (how a drawn run's steps are drawn). This module holds the
drivers and :func:`perform`, the one place every driver runs an action through (so a test
can wrap it: the drivers look it up here, as a global of this module).

Speed: a step's own work (a request through client, server thread, handler and fake) costs
about half a millisecond, and every Hypothesis draw tens of microseconds, so the drawn
drivers draw a step's action and arguments in one go from precomputed lists over the
current model (:class:`_Choices`), set-ups come from curated names (:func:`setups`), and the
after-every-step state check re-reads the fake only when a row of it changed.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from bytestreamrpc.messages import DatasetPath, FilesystemVersion

from .model import ZfsModel
from .stateful_choices import Step as Step
from .stateful_choices import _Choices, _steps
from .stateful_harness import _WEIGHTS, ACTIONS, PERFORMERS, Action, StatefulHarness
from .stateful_harness import IDENTITY as IDENTITY
from .stateful_harness import TIMEOUT as TIMEOUT
from .stateful_setup import SINK_ROOT as SINK_ROOT
from .stateful_setup import Setup, random_setup, setups
from .stateful_setup import _weighted as _weighted
from .stateful_setup import acl_summary as acl_summary

__all__ = [
    "ACTIONS",
    "Action",
    "ServerConversation",
    "Setup",
    "StatefulHarness",
    "perform",
    "run_drawn_actions",
    "run_random_actions",
    "setups",
]


def perform(h: StatefulHarness, action: Action, arguments: tuple[Any, ...]) -> None:
    """Run ``action`` (checking its answer against the model), count it, then check the
    fake's state against the model: after every step, since that costs next to nothing
    unless something changed (:meth:`StatefulHarness.check_state`). ``action`` may also be
    its name (an :class:`Action` is a ``str``)."""
    performer = PERFORMERS.get(action)
    if performer is None:
        raise ValueError(f"unknown action {action!r}")
    try:
        performer(h, arguments)
    except Exception:
        h.raise_if_server_crashed()  # the cause, rather than the client's view of it
        raise
    h.steps += 1
    h.check_state()


def run_drawn_actions(
    data: st.DataObject, *, max_actions: int = 50, on_step: Callable[[], None] | None = None
) -> int:
    """One whole stateful run drawn from ``data``; returns the number of actions run.

    Runs take ``max_actions`` steps unless a stop is drawn (:data:`_STOP`). The steps up to
    the next one that may change the model are drawn together (:func:`_steps`), against
    the model they will run on. ``on_step`` is called after every completed step (a run cut
    short, e.g. by a fuzzer's input running out, returns nothing).
    """
    h = StatefulHarness(data.draw(setups(), label="setup"))
    try:
        choices = _Choices(h.model)
        while h.steps < max_actions:
            if choices.model is not h.model:
                choices = _Choices(h.model)
            steps, stop = data.draw(_steps(choices, max_actions - h.steps), label="steps")
            for action, arguments in steps:
                try:
                    perform(h, action, arguments)
                except Exception as exc:
                    exc.add_note(f"stateful step {h.steps + 1}: {action}{arguments!r}")
                    raise
                if on_step is not None:
                    on_step()
            if stop or not steps:
                break
        h.check_state()
        return h.steps
    finally:
        h.teardown()


class ServerConversation(RuleBasedStateMachine):
    """A client talking to our server, every answer and the state after every step checked
    against the model (``ServerConversation.TestCase`` is a unittest test case).

    One rule per action; a rule's arguments come from one draw over the current model
    (:class:`_Choices`). :attr:`completed` counts the steps every instance completed.
    """

    completed: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.harness: StatefulHarness | None = None
        self._choices: _Choices | None = None

    @initialize(setup=setups())
    def start(self, setup: Setup) -> None:
        self.harness = StatefulHarness(setup)

    def _run(self, action: Action, data: st.DataObject | None = None) -> None:
        h = self.harness
        assert h is not None
        arguments: tuple[Any, ...] = ()
        if data is not None:
            if self._choices is None or self._choices.model is not h.model:
                self._choices = _Choices(h.model)
            arguments = data.draw(self._choices.arguments(action), label=action)
        perform(h, action, arguments)
        type(self).completed += 1

    @rule()
    def list_filesystems(self) -> None:
        self._run(Action.LIST_FILESYSTEMS)

    @rule(data=st.data())
    def list_versions(self, data: st.DataObject) -> None:
        self._run(Action.LIST_VERSIONS, data)

    @rule(data=st.data())
    def initial_transfer(self, data: st.DataObject) -> None:
        self._run(Action.INITIAL_TRANSFER, data)

    @rule(data=st.data())
    def incremental_transfer(self, data: st.DataObject) -> None:
        self._run(Action.INCREMENTAL_TRANSFER, data)

    @rule(data=st.data())
    def bad_protocol_version(self, data: st.DataObject) -> None:
        self._run(Action.BAD_PROTOCOL_VERSION, data)

    @rule(data=st.data())
    def garbage(self, data: st.DataObject) -> None:
        self._run(Action.GARBAGE, data)

    @rule()
    def close(self) -> None:
        self._run(Action.CLOSE)

    @rule()
    def push(self) -> None:
        self._run(Action.PUSH)

    def teardown(self) -> None:
        if self.harness is not None:
            try:
                self.harness.check_state()
            finally:
                self.harness.teardown()


def _random_path(rng: random.Random, model: ZfsModel) -> DatasetPath:
    if model.datasets and rng.random() < 0.85:
        return DatasetPath(tuple(rng.choice(model.datasets).split("/")))
    return rng.choice((DatasetPath(("pool", "")), DatasetPath(("pool", "a@b"))))


def _random_version(rng: random.Random, model: ZfsModel, p: DatasetPath) -> FilesystemVersion:
    own = model.versions.get(p.to_string(), [])
    if own and rng.random() < 0.75:
        return rng.choice(own)
    every = [v for vs in model.versions.values() for v in vs]
    if every and rng.random() < 0.8:
        return rng.choice(every)
    return FilesystemVersion(rng.choice(("snapshot", "bookmark", "x")), "s0", 1, 1)


def run_random_actions(rng: random.Random, actions: int) -> int:
    """A stateful run whose every choice comes from ``rng`` instead of Hypothesis.

    Same harness, same checks, same action mix as :func:`run_drawn_actions`; it trades
    shrinking for speed (bulk runs and the throughput benchmark). Returns actions run.
    """
    h = StatefulHarness(random_setup(rng))
    weighted = [a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)]
    try:
        for _ in range(actions):
            path = functools.partial(_random_path, rng, h.model)
            version = functools.partial(_random_version, rng, h.model)
            action = rng.choice(weighted)
            arguments: tuple[Any, ...] = ()
            if action == Action.LIST_VERSIONS:
                arguments = (path(),)
            elif action == Action.INITIAL_TRANSFER:
                p = path()
                arguments = (p, version(p))
            elif action == Action.INCREMENTAL_TRANSFER:
                p = path()
                arguments = (p, version(p), version(p))
            elif action == Action.BAD_PROTOCOL_VERSION:
                arguments = (rng.choice((0, 2, 255)),)
            elif action == Action.GARBAGE:
                arguments = (rng.randbytes(rng.randint(0, 48)),)
            perform(h, action, arguments)
        h.check_state()
        return h.steps
    finally:
        h.teardown()
