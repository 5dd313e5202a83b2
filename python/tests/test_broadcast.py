"""Reliable broadcast from Python: PettingZoo's API and seed tests at
several configurations, and the Python episode checked against the Rust
engine (`envs::broadcast::play::Batch`, played as the runner's loop plays
it), turn by turn, for the same seed and moves."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test, parallel_seed_test

import selfplay
from selfplay._selfplay import _broadcast_engine_episode

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

CONFIGS = {
    # n = 4, f = 1 Byzantine, one value per kind, pay per property, half
    # the batch on a faulty sender (a batch of one: always).
    "n4_f1": ("rb_learn.toml", []),
    "n4_f1_uniform_free": (
        "rb_learn.toml",
        ["rb.faulty_sender_share=0.0", "rb.one_value_per_kind=false", "rb.pay_per_property=false"],
    ),
    "n4_f1_thresholds": ("rb_learn_any_n.toml", ["rb.faulty_sender_share=0.0"]),
    "n4_f1_symmetric_supported": (
        "rb_learn.toml",
        ["rb.value_symmetric=true", "rb.supported_only=true", "rb.faulty_sender_share=0.0"],
    ),
    "n3_crash": ("rb_learn_crash.toml", []),
    "n5_f1": ("rb_learn.toml", ["env.n=5", "rb.faulty_sender_share=0.0"]),
    # rb.per_value: two rows of the honest network per decision, one per value.
    "n4_f1_per_value": ("rb_learn_per_value.toml", []),
    # ... in the raw-count view, uniform instances, both values of a kind
    # and no support needed: the rows' join sends both values at once.
    "n4_f1_per_value_counts_free": (
        "rb_learn_per_value.toml",
        ['rb.view="counts"', "rb.faulty_sender_share=0.0", "rb.one_value_per_kind=false",
         "rb.supported_only=false"],
    ),
}
PER_VALUE = ["n4_f1_per_value", "n4_f1_per_value_counts_free"]


def make(name):
    file, sets = CONFIGS[name]
    return selfplay.broadcast_env(EXPERIMENTS / file, set=sets)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parallel_api(name):
    parallel_api_test(make(name), num_cycles=1000)


@pytest.mark.parametrize("name", ["n4_f1", "n3_crash", "n4_f1_symmetric_supported", "n4_f1_per_value"])
def test_parallel_seed(name):
    parallel_seed_test(lambda: make(name))


def test_agents_and_errors_follow_the_config():
    assert make("n4_f1").possible_agents == ["honest_0", "honest_1", "honest_2", "adversary"]
    assert make("n3_crash").possible_agents == ["honest_0", "honest_1", "honest_2", "adversary"]
    with pytest.raises(ValueError, match=r"rb_learn.toml \(game reliable_broadcast\): env.faults"):
        selfplay.broadcast_env(EXPERIMENTS / "rb_learn.toml", set=['env.faults="omission"'])
    with pytest.raises(ValueError, match="honest.kind"):
        selfplay.broadcast_env(EXPERIMENTS / "rb_learn.toml", set=['honest.kind="scripted"'])
    with pytest.raises(ValueError, match="not reliable_broadcast"):
        selfplay.broadcast_env(EXPERIMENTS / "slush.toml")
    assert isinstance(selfplay.make_env(EXPERIMENTS / "rb_learn.toml"), selfplay.BroadcastEnv)


def play(env, seed, rng, stop_share=0.05):
    """One episode with random legal moves (the adversary stops, when it
    may, with a small probability): each turn as Python saw it, the honest
    turns' actions by id, the adversary's classes, and the summed rewards."""
    obs, infos = env.reset(seed=seed)
    ids = env.agent_ids()
    turns, honest, adversary = [], [], []
    total = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        for agent, o in obs.items():
            assert env.observation_space(agent).contains(o), agent
        if infos["adversary"]["acting"]:
            assert not any(infos[a]["acting"] for a in ids)
            m = obs["adversary"]["action_mask"]
            legal = np.flatnonzero(m)
            if 2 in legal and len(legal) > 1 and rng.random() > stop_share:
                legal = legal[legal != 2]
            c = int(rng.choice(legal))
            turns.append({"adversary_obs": obs["adversary"]["observation"], "adversary_mask": m})
            adversary.append(c)
            actions = {"adversary": c}
        else:
            assert not obs["adversary"]["action_mask"].any()
            seen, given, actions = [], [], {}
            for agent, i in sorted(ids.items(), key=lambda x: x[1]):
                if not infos[agent]["acting"]:
                    assert not np.array(obs[agent]["action_mask"]).any()
                    continue
                masks = obs[agent]["action_mask"]
                acts = [int(rng.choice(np.flatnonzero(m))) for m in masks]
                seen.append((i, obs[agent]["observation"], [list(m) for m in masks]))
                given.append((i, acts))
                actions[agent] = np.array(acts, np.uint8)
            assert given, "an honest turn with nobody acting"
            turns.append({"honest": seen})
            honest.append(given)
        obs, rewards, terms, truncs, infos = env.step(actions)
        for agent, r in rewards.items():
            total[agent] += r
        assert not any(truncs.values())
    assert all(terms.values())
    return ids, turns, honest, adversary, total, infos


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_episodes_equal_the_rust_engines(name):
    file, sets = CONFIGS[name]
    env = make(name)
    rng = np.random.default_rng(7)
    broken = set()
    for seed in range(12):
        ids, turns, honest, adversary, total, infos = play(env, seed, rng)
        ref = _broadcast_engine_episode(str(EXPERIMENTS / file), sets, seed, honest, adversary)
        assert len(ref["turns"]) == len(turns), f"seed {seed}"
        names = {i: agent for agent, i in ids.items()}
        assert sorted(names) == [i for i in range(env.batch.n) if i not in ref["byzantine"]]
        for t, (got, want) in enumerate(zip(turns, ref["turns"])):
            if "honest" in got:
                assert [i for i, _, _ in got["honest"]] == [i for i, _ in want["honest_obs"]], t
                for (i, o, masks), (_, w), wm in zip(got["honest"], want["honest_obs"], want["honest_mask"]):
                    np.testing.assert_array_equal(o, np.float32(w))
                    assert masks == [[m >> v & 1 for v in range(3)] for m in wm]
            else:
                assert "adversary_obs" in want, f"turn {t}: the engine's turn is the honest team's"
                np.testing.assert_array_equal(got["adversary_obs"], np.float32(want["adversary_obs"]))
                assert list(got["adversary_mask"]) == [want["adversary_mask"] >> v & 1 for v in range(3)]
        for i, whole in ref["honest_rewards"]:
            assert total[names[i]] == pytest.approx(whole), names[i]
        assert total["adversary"] == pytest.approx(ref["adversary_reward"])
        outcome = infos["adversary"]["outcome"]
        assert len(outcome["broken"]) == bin(ref["broken"]).count("1")
        broken.add(ref["broken"] != 0)
    # Random play breaks some property at times: the adversary's pay path ran.
    assert True in broken


def test_the_batch_steps_many_episodes_as_arrays():
    file, sets = CONFIGS["n4_f1_uniform_free"]
    e = 128
    batch = selfplay.broadcast_batch(EXPERIMENTS / file, set=sets, num_envs=e)
    env = make("n4_f1_uniform_free")
    batch.reset(seed=5)
    env_obs, _ = env.reset(seed=5)
    view = batch.observe()
    n = batch.n
    assert view["honest_obs"].shape == (e, n, batch.obs_size)
    assert view["honest_mask"].shape == (e, n, 4, 3)
    assert view["adversary_obs"].shape == (e, batch.adversary_obs_size)
    for agent, i in env.agent_ids().items():
        np.testing.assert_array_equal(view["honest_obs"][0, i], env_obs[agent]["observation"])
    rng = np.random.default_rng(0)
    paid = np.zeros((e, n), np.float32)
    won = np.zeros(e, np.float32)
    steps = 0
    while not view["over"].all():
        # Each live episode is either the honest team's turn or the adversary's.
        live = ~view["over"]
        assert (view["acting"].any(axis=1)[live] != view["adversary_turn"][live]).all()
        h = masked_choice(rng, view["honest_mask"])
        b = masked_choice(rng, view["adversary_mask"])
        hr, ar, over = batch.step(h, b)
        paid += hr
        won += ar
        view = batch.observe()
        steps += 1
    out = batch.outcome()
    assert (won == (out["broken"] != 0)).all()  # pay_per_property is off here
    assert (paid[~view["honest"]] == 0).all()
    assert (paid[view["honest"]] <= 0).all()
    assert 0 < (out["broken"] != 0).sum() < e
    assert (out["moves"] <= batch.max_moves).all()
    with pytest.raises(RuntimeError, match="reset"):
        batch.step(h, b)


def masked_choice(rng, mask):
    scores = rng.random(mask.shape) * mask
    return scores.argmax(axis=-1).astype(np.uint8)


def test_per_value_rows_are_each_values_evidence():
    """Under rb.per_value an honest agent sees two rows (value 0's, then
    value 1's), acts with four heads per row, class 1 never allowed, and the
    rows' classes make its decision; without it, one row of four heads."""
    one = make("n4_f1").batch
    assert (one.honest_rows, one.honest_heads, one.obs_size) == (1, 4, one.row_size)
    env = make("n4_f1_per_value")
    b = env.batch
    assert env.honest_rows == b.honest_rows == 2
    assert b.honest_heads == 8 and b.obs_size == 2 * b.row_size
    for agent in env.possible_agents[:-1]:
        assert env.action_space(agent) == spaces.MultiDiscrete([3] * 8)
        assert env.observation_space(agent)["observation"].shape == (b.obs_size,)
    rng = np.random.default_rng(3)
    for seed in range(4):
        obs, infos = env.reset(seed=seed)
        ids = env.agent_ids()
        while env.agents:
            actions = {}
            if infos["adversary"]["acting"]:
                actions["adversary"] = int(rng.choice(np.flatnonzero(obs["adversary"]["action_mask"])))
            for agent in ids:
                rows = np.asarray(obs[agent]["observation"]).reshape(2, b.row_size)
                masks = np.array(obs[agent]["action_mask"])
                assert masks.shape == (8, 3)
                assert not masks[:, 1].any()
                # Input v and INIT v read are each at most one row's.
                assert rows[:, 0].sum() <= 1 and rows[:, 1].sum() <= 1
                if infos[agent]["acting"]:
                    actions[agent] = np.array([rng.choice(np.flatnonzero(m)) for m in masks], np.uint8)
            obs, _, _, _, infos = env.step(actions)


def test_per_value_batch_shapes():
    file, sets = CONFIGS["n4_f1_per_value_counts_free"]
    e = 64
    batch = selfplay.broadcast_batch(EXPERIMENTS / file, set=sets, num_envs=e)
    batch.reset(seed=1)
    view = batch.observe()
    n = batch.n
    assert view["honest_obs"].shape == (e, n, 2 * batch.row_size)
    assert view["honest_mask"].shape == (e, n, 8, 3)
    with pytest.raises(ValueError, match=r"expected shape \(64, 4, 8\)"):
        batch.step(np.zeros((e, n, 4), np.uint8), np.zeros(e, np.uint8))
    rng = np.random.default_rng(0)
    while not view["over"].all():
        batch.step(masked_choice(rng, view["honest_mask"]), masked_choice(rng, view["adversary_mask"]))
        view = batch.observe()
    out = batch.outcome()
    assert (out["moves"] <= batch.max_moves).all()
