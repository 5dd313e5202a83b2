"""Asynchronous reliable broadcast (``game = "reliable_broadcast"``,
docs/reliable_broadcast_learning.md) as a PettingZoo ``ParallelEnv``.

One episode of the Rust engine (``BroadcastBatch`` with one episode), read
from an experiment file exactly as ``selfplay FILE --set ...`` reads and
checks it. Both teams learn in this game, so Python plays both.

The game moves in turns, one per ``step``: while some correct agent has a
view it has not acted on (it is *pending*), the pending agents act, each
once; otherwise the adversary chooses its next move one level at a time
(what: deliver a correct agent's message, a Byzantine move, or stop; the
recipient's base-3 digits; the message's kind; its value), a ``step`` a
level, or stops in a quiescent state. The side not moving has all-zero
masks and its actions are ignored (``infos[agent]["acting"]``). An
episode's instance (who is faulty, the sender's input) is drawn as the
runner draws a training batch's (``rb.faulty_sender_share`` of a batch
of one, rounded, has a faulty sender: set it to 0 for uniform instances).

Agents:

- ``honest_0`` .. ``honest_{k-1}``: the correct agents by ascending id (``k
  = n - f`` under Byzantine faults, ``n`` under crash faults; the ids
  follow the instance: ``agent_ids()``). ``MultiDiscrete([3, 3, 3, 3])``:
  INIT, ECHO, READY and deliver, each value 0, 1 or none (2), with a mask
  per head (``rb.one_value_per_kind``, ``rb.supported_only`` and
  ``rb.value_symmetric`` apply as in the Rust learner; a value-symmetric
  view is shown turned, and its decision turned back).
  Under ``rb.per_value`` the honest network decides one value at a time:
  an agent's decision takes two rows (``batch.honest_rows``), value 0's
  then value 1's, each seeing only that value's evidence (whether the input
  is v, whether the INIT read is v, the counts of ECHO v and READY v) and
  with four heads saying whether to send INIT v, ECHO v, READY v and
  deliver v (class 0; class 1 is always masked). The observation is then
  the two rows' observations one after the other, flat (``(honest_rows *
  batch.row_size,)``: reshape to ``(honest_rows, row_size)`` to run one
  network per row), the action ``MultiDiscrete([3] * 8)`` (value 0's four
  heads, then value 1's) with a mask per head, and the rows' answers are
  joined into one decision as the Rust runner joins them
  (``play::decision_of``: where both rows take a head that allows one value
  only, value 0 is taken). Without it there is one row, and everything is
  as described above.
- ``adversary``: the Byzantine agents and the scheduler, ``Discrete(3)``
  at each level, with its mask.

Rewards come at the end, as the runner pays: the adversary 1 if some
property is broken (1 per broken property with ``rb.pay_per_property``),
each correct agent minus that and ``rb.message_cost`` per message it sent.
Every agent is terminated when the episode ends; nothing is truncated
(a run has at most ``max_moves`` adversary moves).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from gymnasium import spaces

from selfplay._env import ADVERSARY, MASK3, OneEpisodeEnv, observed
from selfplay._selfplay import BroadcastBatch


class BroadcastEnv(OneEpisodeEnv):
    metadata = {"name": "selfplay_reliable_broadcast_v0", "render_modes": []}

    def __init__(self, config: str, set: Sequence[str] = ()):
        b = BroadcastBatch(str(config), list(set), 1)
        correct = b.n if b.faults == "crash" else b.n - b.f
        honest = [f"honest_{k}" for k in range(correct)]
        self._agents(b, honest, True)
        self._obs_spaces = {
            a: observed(
                spaces.Box(0.0, 1.0, (b.obs_size,), np.float32),
                spaces.Tuple([MASK3] * b.honest_heads),
            )
            for a in honest
        }
        self._act_spaces = {a: spaces.MultiDiscrete([3] * b.honest_heads) for a in honest}
        self._obs_spaces[ADVERSARY] = observed(
            spaces.Box(0.0, 1.0, (b.adversary_obs_size,), np.float32), MASK3
        )
        self._act_spaces[ADVERSARY] = spaces.Discrete(3)

    @property
    def honest_rows(self) -> int:
        """Rows of the honest network per decision: 1, or 2 under
        ``rb.per_value`` (an honest observation and action are that many
        rows' one after the other)."""
        return self._batch.honest_rows

    def _actions(self, actions):
        b = self._batch
        honest = np.zeros((1, b.n, b.honest_heads), np.uint8)
        adversary = np.zeros(1, np.uint8)
        if self._adversary_turn:
            adversary[0] = int(actions[ADVERSARY])
        else:
            self._honest_actions(actions, honest)
        return honest, adversary

    def _observations(self, view):
        self._last_acting = view["acting"][0]
        self._adversary_turn = bool(view["adversary_turn"][0])
        out = {}
        for name, i in zip(self._honest, self._ids):
            out[name] = {
                "observation": view["honest_obs"][0, i],
                "action_mask": tuple(view["honest_mask"][0, i].astype(np.int8)),
            }
        out[ADVERSARY] = {
            "observation": view["adversary_obs"][0],
            "action_mask": view["adversary_mask"][0].astype(np.int8),
        }
        return out

    def _agent_infos(self, view):
        infos = {name: {"acting": bool(view["acting"][0, i])} for name, i in zip(self._honest, self._ids)}
        infos[ADVERSARY] = {"acting": bool(view["adversary_turn"][0])}
        return infos

    def _final(self, outcome):
        names = outcome["properties"]
        broken = int(outcome["broken"][0])
        return {
            "broken": [p for k, p in enumerate(names) if broken >> k & 1],
            "moves": int(outcome["moves"][0]),
            "honest_messages": int(outcome["honest_messages"][0]),
        }


def broadcast_env(config: str, set: Sequence[str] = ()) -> BroadcastEnv:
    """Reliable broadcast of experiment file ``config`` (``game =
    "reliable_broadcast"``, with ``--set``-style overrides ``set``) as a
    PettingZoo ParallelEnv."""
    return BroadcastEnv(config, set)


def broadcast_batch(config: str, set: Sequence[str] = (), num_envs: int = 1) -> BroadcastBatch:
    """``num_envs`` episodes of reliable broadcast stepped together in Rust,
    as numpy arrays (see ``BroadcastBatch``)."""
    return BroadcastBatch(str(config), list(set), num_envs)
