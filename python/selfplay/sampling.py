"""The sampling game (Avalanche's Slush and Snowflake, ``game = "slush"``,
docs/learning.md) as a PettingZoo ``ParallelEnv``.

One episode of the Rust engine (``SlushBatch`` with one episode), read
from an experiment file exactly as ``selfplay FILE --set ...`` reads and
checks it. A team the experiment makes learn (``kind = "learned"``) is
played from Python; a scripted or frozen one in Rust, as the CLI plays it.

A round has two moves, so two ``step`` calls when Python plays both
teams: first the Byzantine answerers answer the queries this round's
samples sent them (phase ``"answer"``), then every undecided honest node,
seeing how many of its ``k`` samples answered 0 and 1, holds a colour or
commits (phase ``"decide"``). A round whose samples asked no Byzantine
node has no answer step. The side not moving has all-zero masks and its
actions are ignored; ``infos[agent]["phase"]`` says which move comes.

Agents:

- ``honest_0`` .. ``honest_{n-f-1}``: the honest nodes by ascending id
  (which ids follows the placement, drawn each episode: ``agent_ids()``).
  ``Discrete(3)``: hold 0, hold 1, commit; holding is masked in the last
  round. Observation: own colour, round, and this round's counts of 0s
  and 1s, one-hot (``SlushSpec::obs_size``).
- ``adversary``: the Byzantine team, ``MultiDiscrete([3] * (f * n))``: head
  ``b * n + q`` is the ``b``-th Byzantine node's answer to querier ``q``
  (0, 1, or 2: no answer). Observation: a row per head, what that
  Byzantine node sees answering that querier (zeros for a query not asked
  this round, whose head is masked), as the Rust answerer network sees it.

Rewards come at the end, as the Rust learners are paid: each honest node
``Rewards::honest_for`` (the sampling game pays nothing per round), the
adversary 1 if it reached ``slush.attack_goal``, else 0. The episode ends
after round ``slush.rounds`` or once every honest node has committed:
every agent is then terminated, never truncated.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from gymnasium import spaces

from selfplay._env import ADVERSARY, MASK3, OneEpisodeEnv, observed
from selfplay._selfplay import SlushBatch


class SlushEnv(OneEpisodeEnv):
    metadata = {"name": "selfplay_slush_v0", "render_modes": []}

    def __init__(self, config: str, set: Sequence[str] = ()):
        b = SlushBatch(str(config), list(set), 1)
        honest = [f"honest_{k}" for k in range(b.n - b.f)] if b.honest_in_python else []
        adversary = [ADVERSARY] if b.adversary_in_python else []
        self._agents(b, honest, bool(adversary))
        self._obs_spaces = {
            a: observed(spaces.Box(0.0, 1.0, (b.obs_size,), np.float32), MASK3) for a in honest
        }
        self._act_spaces = {a: spaces.Discrete(3) for a in honest}
        if adversary:
            heads = b.adversary_action_len
            self._obs_spaces[ADVERSARY] = observed(
                spaces.Box(0.0, 1.0, (heads, b.adversary_obs_size), np.float32),
                spaces.Tuple([MASK3] * heads),
            )
            self._act_spaces[ADVERSARY] = spaces.MultiDiscrete([3] * heads)

    def _actions(self, actions):
        b = self._batch
        honest = adversary = None
        if b.phase == "decide":
            honest = np.zeros((1, b.n), np.uint8)
            self._honest_actions(actions, honest)
        else:
            adversary = np.asarray(actions[ADVERSARY], dtype=np.uint8).reshape(1, -1)
        return honest, adversary

    def _agent_infos(self, view):
        phase = self._batch.phase
        infos = {
            name: {"acting": bool(view["acting"][0, i]), "phase": phase}
            for name, i in zip(self._honest, self._ids)
        }
        if ADVERSARY in self.possible_agents:
            infos[ADVERSARY] = {"acting": phase == "answer", "phase": phase}
        return infos


def slush_env(config: str, set: Sequence[str] = ()) -> SlushEnv:
    """The sampling game of experiment file ``config`` (``game = "slush"``,
    with ``--set``-style overrides ``set``) as a PettingZoo ParallelEnv."""
    return SlushEnv(config, set)


def slush_batch(config: str, set: Sequence[str] = (), num_envs: int = 1) -> SlushBatch:
    """``num_envs`` episodes of the sampling game stepped together in Rust,
    as numpy arrays (see ``SlushBatch``)."""
    return SlushBatch(str(config), list(set), num_envs)
