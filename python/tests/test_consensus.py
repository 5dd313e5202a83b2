"""The consensus game from Python: PettingZoo's own API and seed tests at
several configurations, and the Python episode checked against the Rust
engine played directly, observation by observation."""

from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import selfplay
from selfplay._selfplay import _engine_episode

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
# A learning team needs train.episodes, as the CLI checks.
BOTH = ["honest.kind=learned", "byzantine.kind=learned", "train.episodes=1000"]

# (experiment, overrides): both teams played from Python unless said.
CONFIGS = {
    "n3_authenticated": ("cotrain.toml", []),
    "n4_pki": ("cotrain.toml", ["env.n=4", "env.identity=\"pki\"", "env.rounds=3"]),
    "n4_no_faults": ("honest_consensus.toml", ["env.n=4"]),
    "n4_anonymous": ("anonymous.toml", []),
    "n4_crash": ("crash.toml", BOTH + ["env.rounds=3"]),
    "n4_omission": ("omission.toml", BOTH + ["env.rounds=3"]),
    "n3_partial_sync": ("partial_sync.toml", ["honest.kind=learned"]),
    "n3_async_crash": ("asynchronous.toml", ["honest.kind=learned"]),
    "n4_broadcast": ("broadcast.toml", []),
    "n4_interactive_consistency": ("interactive_consistency.toml", []),
    "n3_atomic_commit": ("atomic_commit.toml", []),
    "n4_canonical_views": ("cotrain.toml", ["env.n=4", "env.canonical_views=true"]),
    "n4_fixed_placement_and_split": (
        "cotrain.toml",
        ["env.n=4", "env.byzantine_ids=[3]", "env.ones=2"],
    ),
    "n4_every_step_penalty": (
        "cotrain.toml",
        ["env.n=4", "rewards.round_penalty=-0.125", "rewards.round_penalty_at=\"every_step\""],
    ),
}


def make(name):
    file, sets = CONFIGS[name]
    return selfplay.consensus_env(EXPERIMENTS / file, set=sets)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parallel_api(name):
    parallel_api_test(make(name), num_cycles=200)


@pytest.mark.parametrize("name", ["n3_authenticated", "n4_crash", "n3_partial_sync", "n4_broadcast"])
def test_parallel_seed(name):
    parallel_seed_test(lambda: make(name))


def test_reset_with_a_seed_replays_the_episode():
    env = make("n4_pki")
    first, _ = env.reset(seed=11)
    ids = env.agent_ids()
    env.reset(seed=12)
    again, _ = env.reset(seed=11)
    assert env.agent_ids() == ids
    for agent in first:
        np.testing.assert_array_equal(first[agent]["observation"], again[agent]["observation"])


def test_agents_follow_the_config():
    both = make("n3_authenticated")
    assert both.possible_agents == ["honest_0", "honest_1", "adversary"]
    crash = make("n4_crash")
    assert crash.possible_agents == [f"honest_{k}" for k in range(4)] + ["adversary"]
    # A scripted honest protocol is played in Rust: only the adversary is left.
    attack = selfplay.consensus_env(EXPERIMENTS / "majority.toml", set=["byzantine.kind=learned", "train.episodes=1000"])
    assert attack.possible_agents == ["adversary"]
    parallel_api_test(attack, num_cycles=50)
    # A scripted adversary is played in Rust: only the honest agents are left.
    defend = selfplay.consensus_env(
        EXPERIMENTS / "cotrain.toml", set=["byzantine.kind=scripted", "byzantine.adversary=\"random\""]
    )
    assert defend.possible_agents == ["honest_0", "honest_1"]
    parallel_api_test(defend, num_cycles=50)
    with pytest.raises(ValueError, match="nothing is left"):
        selfplay.consensus_env(EXPERIMENTS / "majority.toml")


def test_config_errors_are_the_clis():
    with pytest.raises(ValueError, match="env.n"):
        selfplay.consensus_env(EXPERIMENTS / "cotrain.toml", set=["env.n=1"])
    with pytest.raises(ValueError):
        selfplay.consensus_env(EXPERIMENTS / "cotrain.toml", set=["env.no_such_key=1"])


def observations_are_in_their_spaces(env, obs):
    for agent, o in obs.items():
        assert env.observation_space(agent).contains(o), agent


def play(env, seed, rng):
    """One episode with random legal actions: what each agent saw, the
    actions by agent id per round, and each agent's summed reward."""
    obs, infos = env.reset(seed=seed)
    ids = env.agent_ids()
    n = env.batch.n
    seen, honest_actions, adversary_actions = [], [], []
    total = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        observations_are_in_their_spaces(env, obs)
        seen.append(obs)
        actions, by_id = {}, np.zeros(n, np.uint8)
        for agent in env.agents:
            mask = obs[agent]["action_mask"]
            if agent == "adversary":
                a = np.array([rng.choice(np.flatnonzero(m)) for m in mask], np.uint8)
                adversary_actions.append(a.tolist())
            else:
                legal = np.flatnonzero(mask)
                assert infos[agent]["acting"] == (len(legal) > 0)
                a = int(rng.choice(legal)) if len(legal) else 0
                by_id[ids[agent]] = a
            actions[agent] = a
        honest_actions.append(by_id.tolist())
        obs, rewards, terms, truncs, infos = env.step(actions)
        for agent, r in rewards.items():
            total[agent] += r
        assert not any(truncs.values())
    assert all(terms.values())
    return ids, seen, honest_actions, adversary_actions, total, infos


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_episodes_equal_the_rust_engines(name):
    file, sets = CONFIGS[name]
    env = make(name)
    rng = np.random.default_rng(5)
    for seed in range(20):
        ids, seen, honest, adversary, total, infos = play(env, seed, rng)
        if "adversary" not in env.possible_agents:
            adversary = []
        ref = _engine_episode(str(EXPERIMENTS / file), sets, seed, honest, adversary)
        assert len(ref["rounds"]) == len(seen)
        names = {i: agent for agent, i in ids.items()}
        faulty = set(ref["faulty"])
        for r, (got, want) in enumerate(zip(seen, ref["rounds"])):
            acting = [i for i in names if got[names[i]]["action_mask"].any()]
            assert acting == want["acting"], f"round {r + 1}"
            for i, o in zip(want["acting"], want["honest_obs"]):
                np.testing.assert_array_equal(got[names[i]]["observation"], np.float32(o))
                np.testing.assert_array_equal(
                    got[names[i]]["action_mask"].astype(bool), want["honest_mask"]
                )
            if "adversary" in got:
                adv = got["adversary"]
                np.testing.assert_array_equal(adv["observation"], np.float32(want["adversary_obs"]))
                bits = [[m >> v & 1 for v in range(3)] for m in want["adversary_mask"]]
                np.testing.assert_array_equal(
                    np.array(adv["action_mask"]).reshape(-1, 3), np.array(bits).reshape(-1, 3)
                )
        for i, whole in ref["honest_rewards"]:
            assert total[names[i]] == pytest.approx(whole), names[i]
        if "adversary" in total:
            assert total["adversary"] == pytest.approx(ref["adversary_reward"])
        outcome = next(iter(infos.values()))["outcome"]
        assert outcome["honest_wins"] == ref["honest_wins"]
        # Honest agents are the followers: never a Byzantine agent.
        if "crash" not in env.batch.describe and "omission" not in env.batch.describe:
            assert not faulty & set(ids.values())


def test_the_batch_steps_many_episodes_as_arrays():
    file, sets = CONFIGS["n4_pki"]
    batch = selfplay.consensus_batch(EXPERIMENTS / file, set=sets, num_envs=64)
    env = make("n4_pki")
    batch.reset(seed=9)
    env_obs, _ = env.reset(seed=9)
    view = batch.observe()
    e, n, a = 64, batch.n, batch.adversary_action_len
    assert view["honest_obs"].shape == (e, n, batch.obs_size)
    assert view["honest_mask"].shape == (e, n, 3)
    assert view["adversary_obs"].shape == (e, batch.adversary_obs_size)
    assert view["adversary_mask"].shape == (e, a, 3)
    # Episode 0 of a batch is the single environment's episode for the same seed.
    for agent, i in env.agent_ids().items():
        np.testing.assert_array_equal(view["honest_obs"][0, i], env_obs[agent]["observation"])
    rng = np.random.default_rng(0)
    paid = np.zeros((e, n), np.float32)
    steps = 0
    while not view["over"].all():
        # A masked random choice per agent and head, without a Python loop over agents.
        h = masked_choice(rng, view["honest_mask"])
        b = masked_choice(rng, view["adversary_mask"])
        hr, ar, over = batch.step(h, b)
        assert hr.shape == (e, n) and ar.shape == (e,) and over.shape == (e,)
        paid += hr
        view = batch.observe()
        steps += 1
    assert steps <= batch.rounds
    # Every honest agent is paid at the end; those of faulty ids never.
    assert (paid[~view["followers"]] == 0).all()
    wins = batch.outcome()["honest_wins"]
    assert wins.shape == (e,)
    with pytest.raises(RuntimeError, match="reset"):
        batch.step(h, b)


def masked_choice(rng, mask):
    """A uniform legal index per row of a boolean mask (..., k); 0 where none is."""
    scores = rng.random(mask.shape) * mask
    return scores.argmax(axis=-1).astype(np.uint8)
