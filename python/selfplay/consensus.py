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

import functools
from typing import Sequence

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from selfplay._selfplay import ConsensusBatch

ADVERSARY = "adversary"


class ConsensusEnv(ParallelEnv):
    metadata = {"name": "selfplay_consensus_v0", "render_modes": []}

    def __init__(self, config: str, set: Sequence[str] = ()):
        self._batch = ConsensusBatch(str(config), list(set), 1)
        b = self._batch
        honest = [f"honest_{k}" for k in range(b.followers)] if b.honest_in_python else []
        adversary = [ADVERSARY] if b.adversary_in_python else []
        if not honest and not adversary:
            raise ValueError(
                f"{config}: Rust plays both teams (scripted or frozen), nothing is left "
                'for Python: set honest.kind = "learned" or byzantine.kind = "learned"'
            )
        self.possible_agents = honest + adversary
        self.agents = []
        self._honest = honest
        self._ids = []
        mask3 = spaces.Box(0, 1, (3,), np.int8)
        self._obs_spaces = {
            a: spaces.Dict(
                {
                    "observation": spaces.Box(0.0, 1.0, (b.obs_size,), np.float32),
                    "action_mask": mask3,
                }
            )
            for a in honest
        }
        self._act_spaces = {a: spaces.Discrete(3) for a in honest}
        if adversary:
            heads = b.adversary_action_len
            self._obs_spaces[ADVERSARY] = spaces.Dict(
                {
                    "observation": spaces.Box(0.0, 1.0, (b.adversary_obs_size,), np.float32),
                    "action_mask": spaces.Tuple([mask3] * heads),
                }
            )
            self._act_spaces[ADVERSARY] = spaces.MultiDiscrete([3] * heads)

    @property
    def batch(self) -> ConsensusBatch:
        """The Rust engine underneath (one episode)."""
        return self._batch

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return self._obs_spaces[agent]

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self._act_spaces[agent]

    def agent_ids(self) -> dict[str, int]:
        """The id of each honest agent in this episode (it follows the
        placement). Privileged: honest agents are never told it."""
        return dict(zip(self._honest, self._ids))

    def reset(self, seed=None, options=None):
        self._batch.reset(seed)
        self.agents = self.possible_agents[:]
        view = self._batch.observe()
        self._ids = [int(i) for i in np.flatnonzero(view["followers"][0])]
        return self._observations(view), self._infos(view, None)

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        b = self._batch
        honest = None
        if self._honest:
            honest = np.zeros((1, b.n), np.uint8)
            before = self._last_acting
            for name, i in zip(self._honest, self._ids):
                if before[i]:
                    if name not in actions:
                        raise KeyError(f"{name} acts this round: give it an action")
                    honest[0, i] = int(actions[name])
        adversary = None
        if ADVERSARY in self.possible_agents:
            adversary = np.asarray(actions[ADVERSARY], dtype=np.uint8).reshape(1, -1)
        hr, ar, over = b.step(honest, adversary)
        view = b.observe()
        rewards = {name: float(hr[0, i]) for name, i in zip(self._honest, self._ids)}
        if ADVERSARY in self.possible_agents:
            rewards[ADVERSARY] = float(ar[0])
        done = bool(over[0])
        observations = self._observations(view)
        infos = self._infos(view, b.outcome() if done else None)
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _observations(self, view):
        self._last_acting = view["acting"][0]
        out = {}
        for name, i in zip(self._honest, self._ids):
            out[name] = {
                "observation": view["honest_obs"][0, i],
                "action_mask": view["honest_mask"][0, i].astype(np.int8),
            }
        if ADVERSARY in self.possible_agents:
            mask = view["adversary_mask"][0].astype(np.int8)
            out[ADVERSARY] = {
                "observation": view["adversary_obs"][0],
                "action_mask": tuple(mask),
            }
        return out

    def _infos(self, view, outcome):
        infos = {}
        for name, i in zip(self._honest, self._ids):
            infos[name] = {"acting": bool(view["acting"][0, i])}
        if ADVERSARY in self.possible_agents:
            infos[ADVERSARY] = {}
        if outcome is not None:
            final = {k: bool(v[0]) for k, v in outcome.items()}
            for info in infos.values():
                info["outcome"] = final
        return infos

    def render(self):
        pass

    def close(self):
        pass


def consensus_env(config: str, set: Sequence[str] = ()) -> ConsensusEnv:
    """The consensus game of experiment file ``config`` (with ``--set``-style
    overrides ``set``, e.g. ``["env.n=4"]``) as a PettingZoo ParallelEnv."""
    return ConsensusEnv(config, set)


def consensus_batch(config: str, set: Sequence[str] = (), num_envs: int = 1) -> ConsensusBatch:
    """``num_envs`` episodes of the consensus game stepped together in Rust,
    as numpy arrays (see ``ConsensusBatch``)."""
    return ConsensusBatch(str(config), list(set), num_envs)
