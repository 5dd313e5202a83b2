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

import functools
from typing import Sequence

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from selfplay._selfplay import SlushBatch

ADVERSARY = "adversary"


class SlushEnv(ParallelEnv):
    metadata = {"name": "selfplay_slush_v0", "render_modes": []}

    def __init__(self, config: str, set: Sequence[str] = ()):
        self._batch = SlushBatch(str(config), list(set), 1)
        b = self._batch
        honest = [f"honest_{k}" for k in range(b.n - b.f)] if b.honest_in_python else []
        adversary = [ADVERSARY] if b.adversary_in_python else []
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
                    "observation": spaces.Box(
                        0.0, 1.0, (heads, b.adversary_obs_size), np.float32
                    ),
                    "action_mask": spaces.Tuple([mask3] * heads),
                }
            )
            self._act_spaces[ADVERSARY] = spaces.MultiDiscrete([3] * heads)

    @property
    def batch(self) -> SlushBatch:
        """The Rust engine underneath (one episode)."""
        return self._batch

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return self._obs_spaces[agent]

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self._act_spaces[agent]

    def agent_ids(self) -> dict[str, int]:
        """The node id of each honest agent this episode (the placement).
        Privileged: honest agents are never told it."""
        return dict(zip(self._honest, self._ids))

    def reset(self, seed=None, options=None):
        self._batch.reset(seed)
        self.agents = self.possible_agents[:]
        view = self._batch.observe()
        self._ids = [int(i) for i in np.flatnonzero(view["honest"][0])]
        return self._observations(view), self._infos(view, None)

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        b = self._batch
        honest = adversary = None
        if b.phase == "decide":
            honest = np.zeros((1, b.n), np.uint8)
            for name, i in zip(self._honest, self._ids):
                if self._last_acting[i]:
                    if name not in actions:
                        raise KeyError(f"{name} acts this round: give it an action")
                    honest[0, i] = int(actions[name])
        else:
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
            out[ADVERSARY] = {
                "observation": view["adversary_obs"][0],
                "action_mask": tuple(view["adversary_mask"][0].astype(np.int8)),
            }
        return out

    def _infos(self, view, outcome):
        phase = self._batch.phase
        infos = {}
        for name, i in zip(self._honest, self._ids):
            infos[name] = {"acting": bool(view["acting"][0, i]), "phase": phase}
        if ADVERSARY in self.possible_agents:
            infos[ADVERSARY] = {"acting": phase == "answer", "phase": phase}
        if outcome is not None:
            final = {k: bool(v[0]) for k, v in outcome.items()}
            for info in infos.values():
                info["outcome"] = final
        return infos

    def render(self):
        pass

    def close(self):
        pass


def slush_env(config: str, set: Sequence[str] = ()) -> SlushEnv:
    """The sampling game of experiment file ``config`` (``game = "slush"``,
    with ``--set``-style overrides ``set``) as a PettingZoo ParallelEnv."""
    return SlushEnv(config, set)


def slush_batch(config: str, set: Sequence[str] = (), num_envs: int = 1) -> SlushBatch:
    """``num_envs`` episodes of the sampling game stepped together in Rust,
    as numpy arrays (see ``SlushBatch``)."""
    return SlushBatch(str(config), list(set), num_envs)
