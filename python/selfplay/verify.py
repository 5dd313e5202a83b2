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


def verify(config=None, set: Sequence[str] = (), protocol: Protocol = None,
           max_work: float | None = None, checkpoint=None) -> dict:
    """The exact optimal attack rate of an honest protocol in the game of
    experiment file ``config`` (with ``--set``-style overrides ``set``):
    ``selfplay verify``'s search and report.

    ``protocol``: ``None`` for the experiment's own honest team (scripted or
    a frozen checkpoint); a scripted protocol's name; a table
    ``{observation bytes: action}`` (see ``decision_table``); or a callable
    from an honest agent's one-hot observation (float32, as the
    environment gives it) to an action (0 send, 1 commit 0, 2 commit 1),
    called once per distinct view. Or, instead of ``config``, an honest
    ``checkpoint`` (a ``.safetensors`` file a consensus run wrote): its
    greedy protocol in the game it was trained in, as ``selfplay verify
    --checkpoint PATH`` searches it. Returns the report as ``selfplay
    verify --json`` prints it (``optimal_attack_rate``, ``verified``,
    ``broken_instances``, ``instances``, ``counterexample``, ...) plus
    ``counterexample_text``, the trace as the CLI prints it.
    """
    if checkpoint is not None:
        if config is not None or protocol is not None or list(set):
            raise TypeError("verify: give a checkpoint alone, or a config (with set and protocol)")
        report, text = _selfplay._verify_checkpoint(str(checkpoint), max_work)
    elif config is None:
        raise TypeError("verify: give an experiment file (config) or a checkpoint")
    else:
        sets, func = _resolve(set, protocol)
        report, text = _selfplay._verify(str(config), sets, func, max_work)
    out = json.loads(report)
    out["counterexample_text"] = text
    return out


def optimal_attack_rate(config=None, set: Sequence[str] = (), protocol: Protocol = None,
                        max_work: float | None = None, checkpoint=None) -> float:
    """The exact optimal attack rate alone: the share of instances (placement
    and inputs) an optimal adversary breaks against the protocol (0 for a
    verified one). The arguments are ``verify``'s."""
    return verify(config, set, protocol, max_work, checkpoint)["optimal_attack_rate"]


def verify_slush(n: int, f: int, protocol: Protocol = None, checkpoint=None, rounds: int | None = None,
                 k: int | None = None, alpha: int | None = None, beta: int | None = None,
                 ones: int | None = None, blind: bool = False, max_work: float | None = None) -> dict:
    """``selfplay verify --game slush --json``: the exact optimal adversary
    of the sampling game against a scripted protocol (``"slush"``,
    ``"snowflake"``, ``"always0"``, ...) or an honest checkpoint of a
    sampling-game run played greedily, with the CLI's flags as keywords
    (``blind``: the adversary does not see the round's samples). Returns
    the CLI's report (``optimal_attack_rate``, ``optimal_majority_attack_rate``,
    ``optimal_correctness_attack_rate``, ``splits``, ...).

    ``protocol`` may also be a stateless protocol of your own: a callable
    from an honest node's one-hot observation (own colour, round, counts of
    0s and 1s, float32, as ``slush_env`` shows it) to an action (0 hold 0,
    1 hold 1, 2 commit; only 2 in the last round), called once per view,
    or a table ``{observation bytes: action}``; its report names it
    ``python``."""
    if protocol is not None and not isinstance(protocol, str):
        if checkpoint is not None or alpha is not None or beta is not None:
            raise TypeError("verify_slush: a protocol of your own takes no checkpoint, alpha or beta")
        _, func = _resolve((), protocol)
        return json.loads(_selfplay._verify_slush_callable(n, f, func, rounds, k, ones, blind, max_work))
    return json.loads(_selfplay._verify_slush(
        n, f, protocol, None if checkpoint is None else str(checkpoint), rounds, k, alpha, beta, ones,
        blind, max_work))


def verify_broadcast(protocol=None, checkpoint=None, n: int | None = None,
                     f: int | None = None, faults: str | None = None, max_states: int | None = None,
                     semantics: str | None = None, first_violation: bool = False) -> dict:
    """``selfplay verify --game reliable_broadcast --json``: every instance,
    delivery order and Byzantine injection searched against a scripted
    protocol (``"bracha"``, ...) or an honest checkpoint of a
    reliable-broadcast run played greedily, with the CLI's flags as
    keywords. Returns the CLI's report (``optimal_attack_rate``,
    ``verified``, ``broken``, ``per_instance``, ``counterexample``, ...)
    plus ``counterexample_text`` as the CLI prints it.

    ``protocol`` may also be a protocol of your own: a callable from an
    honest agent's observation in the raw-count view (``rb.view =
    "counts"``, as ``broadcast_env`` shows it: input, first INIT, each count
    as a thermometer of ``n`` units, messages sent, delivery) to its four
    classes (INIT, ECHO, READY, deliver: 0, 1 or 2 none; a class the view's
    mask forbids is taken as none), called once per distinct view, or a
    table ``{observation bytes: classes}``; its report names it ``python``."""
    if protocol is not None and not isinstance(protocol, str):
        if checkpoint is not None or first_violation:
            raise TypeError("verify_broadcast: a protocol of your own takes no checkpoint or first_violation")
        if n is None or f is None:
            raise TypeError("verify_broadcast: a protocol of your own needs n and f")
        _, func = _resolve((), protocol)
        report, text = _selfplay._verify_broadcast_callable(func, n, f, faults, max_states, semantics)
        out = json.loads(report)
        out["counterexample_text"] = text
        return out
    report, text = _selfplay._verify_broadcast(
        protocol, None if checkpoint is None else str(checkpoint), n, f, faults, max_states, semantics,
        first_violation)
    out = json.loads(report)
    out["counterexample_text"] = text
    return out


def run(config, out, set: Sequence[str] = ()) -> None:
    """``selfplay FILE --set ... --out OUT --quiet``: runs the experiment
    (any game) into the new folder ``out``, as the CLI does; its
    checkpoints (``honest.safetensors``, ``byzantine.safetensors``) and
    ``metrics.csv`` are written there. A training run keeps rayon to one
    thread in this process (``RAYON_NUM_THREADS=1`` unless set), as the
    CLI does."""
    _selfplay._run(str(config), str(out), list(set))


def decision_table(config, set: Sequence[str] = (), protocol: Protocol = None,
                   max_work: float | None = None) -> dict[bytes, int]:
    """Every view the exhaustive search reaches with the protocol's action,
    as ``selfplay explain`` lists them: ``{observation bytes: action}``,
    the key being the one-hot observation as uint8 bytes
    (``obs.astype(np.uint8).tobytes()``). A table ``verify`` takes back."""
    sets, func = _resolve(set, protocol)
    return _selfplay._decision_table(str(config), sets, func, max_work)
