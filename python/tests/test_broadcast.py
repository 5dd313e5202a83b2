"""Reliable broadcast from Python: PettingZoo's API and seed tests at
several configurations, and the Python episode checked against the Rust
engine (`envs::broadcast::play::Batch`, played as the runner's loop plays
it), turn by turn, for the same seed and moves."""

from pathlib import Path

import numpy as np
import pytest
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
}


def make(name):
    file, sets = CONFIGS[name]
    return selfplay.broadcast_env(EXPERIMENTS / file, set=sets)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parallel_api(name):
    parallel_api_test(make(name), num_cycles=1000)


@pytest.mark.parametrize("name", ["n4_f1", "n3_crash", "n4_f1_symmetric_supported"])
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
