"""What the games' PettingZoo environments share: one episode of a Rust
batch (``num_envs = 1``), agents ``honest_k`` (by ascending id, the ids
drawn with each episode) and ``adversary``, spaces fixed at construction,
rewards read off the batch's step, every agent terminated when the episode
ends and nothing truncated. A game's module builds its batch and spaces and
says how actions go in (``_actions``), what each agent is told
(``_agent_infos``) and how the outcome reads (``_final``)."""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

ADVERSARY = "adversary"

# A mask over the three classes of a head (int8, as PettingZoo's masks).
MASK3 = spaces.Box(0, 1, (3,), np.int8)


def observed(observation: spaces.Space, mask: spaces.Space) -> spaces.Dict:
    """An agent's observation space: what it sees and its action mask."""
    return spaces.Dict({"observation": observation, "action_mask": mask})


class OneEpisodeEnv(ParallelEnv):
    # The observe() key whose first row marks the honest agents' ids.
    IDS = "honest"

    def _agents(self, batch, honest, adversary: bool):
        self._batch = batch
        self._honest = honest
        self._ids = []
        self.possible_agents = honest + ([ADVERSARY] if adversary else [])
        self.agents = []

    @property
    def batch(self):
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
        self._ids = [int(i) for i in np.flatnonzero(view[self.IDS][0])]
        return self._observations(view), self._infos(view, None)

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        hr, ar, over = self._batch.step(*self._actions(actions))
        view = self._batch.observe()
        rewards = {name: float(hr[0, i]) for name, i in zip(self._honest, self._ids)}
        if ADVERSARY in self.possible_agents:
            rewards[ADVERSARY] = float(ar[0])
        done = bool(over[0])
        observations = self._observations(view)
        infos = self._infos(view, self._batch.outcome() if done else None)
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _honest_actions(self, actions, out):
        """Writes each acting honest agent's action into ``out[0, id]``."""
        for name, i in zip(self._honest, self._ids):
            if self._last_acting[i]:
                if name not in actions:
                    raise KeyError(f"{name} acts now: give it an action")
                out[0, i] = np.asarray(actions[name], dtype=np.uint8)

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
        infos = self._agent_infos(view)
        if outcome is not None:
            final = self._final(outcome)
            for info in infos.values():
                info["outcome"] = final
        return infos

    def _final(self, outcome):
        return {k: bool(v[0]) for k, v in outcome.items()}

    def render(self):
        pass

    def close(self):
        pass
