"""The exact verifier as a function: ``selfplay verify``'s exhaustive search
(docs/verifier.md) on a consensus experiment's game."""

from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence, Union

import numpy as np

from selfplay import _selfplay

Protocol = Union[None, str, Mapping[bytes, int], Callable[[np.ndarray], int]]


def _key(obs: np.ndarray) -> bytes:
    """A table's key for a one-hot observation: its entries as uint8 bytes."""
    return np.asarray(obs).astype(np.uint8).tobytes()


def _resolve(set: Sequence[str], protocol: Protocol):
    """The overrides and the callable (or None) the search is given."""
    set = list(set)
    if protocol is None:
        return set, None
    if isinstance(protocol, str):
        # As the CLI's --set would name it: the experiment's honest team
        # becomes that scripted protocol (and its rounds, unless env.rounds).
        return set + ["honest.kind=\"scripted\"", f"honest.protocol={json.dumps(protocol)}"], None
    if isinstance(protocol, Mapping):
        table = protocol

        def from_table(obs):
            key = _key(obs)
            if key not in table:
                raise KeyError(f"the table has no action for the view {np.flatnonzero(obs).tolist()} "
                               "(indices of the one-hot observation set to 1)")
            return table[key]

        return set, from_table
    if callable(protocol):
        return set, protocol
    raise TypeError("protocol: give None, a scripted name, a table (dict) or a callable obs -> action")


def verify(config, set: Sequence[str] = (), protocol: Protocol = None, max_work: float | None = None) -> dict:
    """The exact optimal attack rate of an honest protocol in the game of
    experiment file ``config`` (with ``--set``-style overrides ``set``):
    ``selfplay verify``'s search and report.

    ``protocol``: ``None`` for the experiment's own honest team (scripted or
    a frozen checkpoint); a scripted protocol's name; a table
    ``{observation bytes: action}`` (see ``decision_table``); or a callable
    from an honest agent's one-hot observation (float32, as the
    environment gives it) to an action (0 send, 1 commit 0, 2 commit 1),
    called once per distinct view. Returns the report as
    ``selfplay verify --json`` prints it (``optimal_attack_rate``,
    ``verified``, ``broken_instances``, ``instances``, ``counterexample``,
    ...) plus ``counterexample_text``, the trace as the CLI prints it.
    """
    sets, func = _resolve(set, protocol)
    report, text = _selfplay._verify(str(config), sets, func, max_work)
    out = json.loads(report)
    out["counterexample_text"] = text
    return out


def decision_table(config, set: Sequence[str] = (), protocol: Protocol = None,
                   max_work: float | None = None) -> dict[bytes, int]:
    """Every view the exhaustive search reaches with the protocol's action,
    as ``selfplay explain`` lists them: ``{observation bytes: action}``,
    the key being the one-hot observation as uint8 bytes
    (``obs.astype(np.uint8).tobytes()``). A table ``verify`` takes back."""
    sets, func = _resolve(set, protocol)
    return _selfplay._decision_table(str(config), sets, func, max_work)
