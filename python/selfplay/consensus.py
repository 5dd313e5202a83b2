"""The consensus game (docs/rules.md) as a PettingZoo ``ParallelEnv``.

One episode of the Rust engine (``ConsensusBatch`` with one episode), read
from an experiment file exactly as ``selfplay FILE --set ...`` reads it.
A team the experiment makes learn (``kind = "learned"``) is played from
Python; a scripted or frozen team is played in Rust, as the CLI plays it.

Agents:

- ``honest_0`` .. ``honest_{k-1}``: the agents that run the honest
  protocol, in ascending id order (``k = n - f`` under Byzantine faults;
  under crash and omission faults all ``n``, the faulty ones included, as
  they run the protocol too). Present when ``honest.kind = "learned"``.
  Which id each has changes with the placement, drawn afresh each episode;
  ``agent_ids()`` tells (not for the agents' eyes).
- ``adversary``: the whole adversary team, one agent that sees the whole
  game (docs/rules.md, "The adversary"). Present when
  ``byzantine.kind = "learned"``.

Observations are dicts ``{"observation": ..., "action_mask": ...}``. An
honest agent reads its one-hot view (float32) and a mask over its three
actions (int8: send, commit 0, commit 1). The adversary reads the team's
observation and, per head of its ``MultiDiscrete([3] * A)`` action, a
mask over ``{0, 1, nothing}``: a tuple of ``A`` int8 arrays, as gymnasium's
``MultiDiscrete.sample(mask=...)`` takes it.

An honest agent that has committed (or crashed) no longer acts: its mask
is all zeros and its action is ignored, but it stays in ``agents`` until
the episode ends, because the reward it is paid depends on how the episode
ends. Rewards are what the Rust learners pay: the per-step round penalty to
each agent that acted (``round_penalty_at = "every_step"``), and at the end
each agent's end reward and the adversary's. The episode ends after round
``R`` or once nobody is left to act: every agent is then terminated. Those
are the game's rules, not a time limit: nothing is ever truncated.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from gymnasium import spaces

from selfplay._env import ADVERSARY, MASK3, OneEpisodeEnv, observed
from selfplay._selfplay import ConsensusBatch


class ConsensusEnv(OneEpisodeEnv):
    metadata = {"name": "selfplay_consensus_v0", "render_modes": []}

    def __init__(self, config: str, set: Sequence[str] = ()):
        b = ConsensusBatch(str(config), list(set), 1)
        honest = [f"honest_{k}" for k in range(b.followers)] if b.honest_in_python else []
        adversary = [ADVERSARY] if b.adversary_in_python else []
        if not honest and not adversary:
            raise ValueError(
                f"{config}: Rust plays both teams (scripted or frozen), nothing is left "
                'for Python: set honest.kind = "learned" or byzantine.kind = "learned"'
            )
        self._agents(b, honest, bool(adversary))
        self._obs_spaces = {
            a: observed(spaces.Box(0.0, 1.0, (b.obs_size,), np.float32), MASK3) for a in honest
        }
        self._act_spaces = {a: spaces.Discrete(3) for a in honest}
        if adversary:
            heads = b.adversary_action_len
            self._obs_spaces[ADVERSARY] = observed(
                spaces.Box(0.0, 1.0, (b.adversary_obs_size,), np.float32),
                spaces.Tuple([MASK3] * heads),
            )
            self._act_spaces[ADVERSARY] = spaces.MultiDiscrete([3] * heads)

    IDS = "followers"

    def _actions(self, actions):
        b = self._batch
        honest = adversary = None
        if self._honest:
            honest = np.zeros((1, b.n), np.uint8)
            self._honest_actions(actions, honest)
        if ADVERSARY in self.possible_agents:
            adversary = np.asarray(actions[ADVERSARY], dtype=np.uint8).reshape(1, -1)
        return honest, adversary

    def _agent_infos(self, view):
        infos = {name: {"acting": bool(view["acting"][0, i])} for name, i in zip(self._honest, self._ids)}
        if ADVERSARY in self.possible_agents:
            infos[ADVERSARY] = {}
        return infos


def consensus_env(config: str, set: Sequence[str] = ()) -> ConsensusEnv:
    """The consensus game of experiment file ``config`` (with ``--set``-style
    overrides ``set``, e.g. ``["env.n=4"]``) as a PettingZoo ParallelEnv."""
    return ConsensusEnv(config, set)


def consensus_batch(config: str, set: Sequence[str] = (), num_envs: int = 1) -> ConsensusBatch:
    """``num_envs`` episodes of the consensus game stepped together in Rust,
    as numpy arrays (see ``ConsensusBatch``)."""
    return ConsensusBatch(str(config), list(set), num_envs)
