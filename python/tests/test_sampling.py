"""The sampling game (Slush, Snowflake) from Python: PettingZoo's API and
seed tests at several configurations, and the Python episode checked
against the Rust engine (`SlushEnv`) played directly, round by round, for
the same seed and moves."""

from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import selfplay
from selfplay._selfplay import _slush_engine_episode

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

CONFIGS = {
    # f = 0: the honest nodes alone (learned), one step a round.
    "n5_f0_honest": ("slush.toml", []),
    # Both teams learned: an answer step, then a decide step, each round.
    "n5_f1_both": ("slush_cotrain.toml", []),
    "n5_f2_both": ("slush_cotrain.toml", ["env.f=2"]),
    "n4_k2_fixed_split": (
        "slush_cotrain.toml",
        ["env.n=4", "slush.k=2", "slush.alpha=2", "slush.rounds=4", "env.ones=2"],
    ),
    # Scripted Slush or Snowflake in Rust: only the answerers are Python's.
    "n5_f1_attack_slush": ("slush_attack.toml", []),
    "n5_f1_attack_snowflake": ("slush_attack.toml", ['honest.protocol="snowflake"']),
    # Scripted answerers in Rust (random: they draw from the same stream).
    "n5_f1_honest_vs_random": (
        "slush.toml",
        ["env.f=1", 'byzantine.adversary="random"'],
    ),
}
# Python plays every move here: the engine can replay them.
BOTH_IN_PYTHON = ["n5_f0_honest", "n5_f1_both", "n5_f2_both", "n4_k2_fixed_split"]


def make(name):
    file, sets = CONFIGS[name]
    return selfplay.slush_env(EXPERIMENTS / file, set=sets)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parallel_api(name):
    parallel_api_test(make(name), num_cycles=200)


@pytest.mark.parametrize("name", ["n5_f1_both", "n5_f1_attack_snowflake", "n5_f1_honest_vs_random"])
def test_parallel_seed(name):
    parallel_seed_test(lambda: make(name))


def test_agents_and_errors_follow_the_config():
    assert make("n5_f0_honest").possible_agents == [f"honest_{k}" for k in range(5)]
    assert make("n5_f2_both").possible_agents == ["honest_0", "honest_1", "honest_2", "adversary"]
    assert make("n5_f1_attack_slush").possible_agents == ["adversary"]
    assert make("n5_f1_honest_vs_random").possible_agents == [f"honest_{k}" for k in range(4)]
    with pytest.raises(ValueError, match="nothing is left"):
        selfplay.slush_env(EXPERIMENTS / "slush_attack.toml", set=["byzantine.kind=scripted", 'byzantine.adversary="contrarian"'])
    # The CLI's own checks, naming the key.
    with pytest.raises(ValueError, match=r"slush.toml \(game slush\): slush.alpha"):
        make_with("slush.toml", ["slush.alpha=4"])
    with pytest.raises(ValueError, match=r"slush.toml: env.synchrony"):
        make_with("slush.toml", ['env.synchrony="asynchronous"'])
    with pytest.raises(ValueError, match="no_such_key"):
        make_with("slush.toml", ["slush.no_such_key=1"])
    with pytest.raises(ValueError, match="not slush"):
        make_with("cotrain.toml", [])
    # make_env builds the game the file names.
    assert isinstance(selfplay.make_env(EXPERIMENTS / "slush.toml"), selfplay.SlushEnv)


def make_with(file, sets):
    return selfplay.slush_env(EXPERIMENTS / file, set=sets)


def play(env, seed, rng):
    """One episode with random legal moves: per round what the answerers
    saw and answered, what the acting honest nodes saw, and their actions
    by id; each agent's summed reward."""
    obs, infos = env.reset(seed=seed)
    ids = env.agent_ids()
    b = env.batch
    n, heads = b.n, b.adversary_action_len
    rounds, cur = [], {"queried": [], "adversary_obs": [], "answers": [2] * heads}
    total = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        for agent, o in obs.items():
            assert env.observation_space(agent).contains(o), agent
        if b.phase == "answer":
            adv = obs["adversary"]
            mask = np.array(adv["action_mask"]).astype(bool)
            queried = np.flatnonzero(mask.any(axis=1)).tolist()
            assert queried, "an answer step with no query asked (such a round is skipped)"
            answers = rng.integers(0, 3, heads).astype(np.uint8)
            cur = {
                "queried": queried,
                "adversary_obs": adv["observation"][queried],
                "answers": answers.tolist(),
            }
            actions = {"adversary": answers}
            assert all(not infos[a]["acting"] for a in ids)
        else:
            by_id = np.full(n, 2, np.uint8)
            acting, seen = [], []
            actions = {}
            for agent, i in sorted(ids.items(), key=lambda x: x[1]):
                legal = np.flatnonzero(obs[agent]["action_mask"])
                assert infos[agent]["acting"] == (len(legal) > 0)
                if len(legal):
                    acting.append(i)
                    seen.append((obs[agent]["observation"], obs[agent]["action_mask"]))
                    by_id[i] = actions[agent] = int(rng.choice(legal))
            cur.update(acting=acting, seen=seen, honest=by_id.tolist())
            rounds.append(cur)
            cur = {"queried": [], "adversary_obs": [], "answers": [2] * heads}
        obs, rewards, terms, truncs, infos = env.step(actions)
        for agent, r in rewards.items():
            total[agent] += r
        assert not any(truncs.values())
    assert all(terms.values())
    return ids, rounds, total, infos


@pytest.mark.parametrize("name", BOTH_IN_PYTHON)
def test_episodes_equal_the_rust_engines(name):
    file, sets = CONFIGS[name]
    env = make(name)
    rng = np.random.default_rng(3)
    wins = set()
    for seed in range(20):
        ids, rounds, total, infos = play(env, seed, rng)
        ref = _slush_engine_episode(
            str(EXPERIMENTS / file),
            sets,
            seed,
            [r["honest"] for r in rounds],
            [r["answers"] for r in rounds],
        )
        assert len(ref["rounds"]) == len(rounds)
        names = {i: agent for agent, i in ids.items()}
        assert sorted(names) == [i for i in range(env.batch.n) if i not in ref["byzantine"]]
        for r, (got, want) in enumerate(zip(rounds, ref["rounds"])):
            order = np.argsort(want["queried"])
            assert got["queried"] == sorted(want["queried"]), f"round {r + 1}"
            if got["queried"]:
                np.testing.assert_array_equal(
                    got["adversary_obs"], np.float32(want["adversary_obs"])[order]
                )
            assert got["acting"] == want["acting"], f"round {r + 1}"
            for (o, m), w in zip(got["seen"], want["honest_obs"]):
                np.testing.assert_array_equal(o, np.float32(w))
                assert m.tolist() == [want["honest_mask"] >> v & 1 for v in range(3)]
        for i, whole in ref["honest_rewards"]:
            assert total[names[i]] == pytest.approx(whole), names[i]
        if "adversary" in total:
            assert total["adversary"] == float(ref["attack_succeeded"])
            wins.add(ref["attack_succeeded"])
        assert len(ref["rounds"]) >= 1
    if "adversary" in env.possible_agents:
        # Random answers sometimes reach the goal and sometimes not: both paths ran.
        assert wins == {True, False}


def test_scripted_teams_play_in_rust_as_the_runner_plays_them():
    # Snowflake's counters (kept in Rust) reach the answerers' observation:
    # after a round, some honest node's counter is past 0.
    env = make("n5_f1_attack_snowflake")
    b = env.batch
    per = 5 + 3 + 1  # node states, then the counter 0..beta one-hot
    past_zero = 0
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        obs, *_ = env.step({"adversary": np.full(b.adversary_action_len, 2, np.uint8)})
        nodes = obs["adversary"]["observation"][:, b.rounds:b.rounds + b.n * per].reshape(-1, b.n, per)
        past_zero += int(nodes[..., 6:].sum() > 0)
    assert past_zero > 0
    # The honest team alone against random answers: every decide step is one round.
    env = make("n5_f1_honest_vs_random")
    obs, infos = env.reset(seed=1)
    rounds = 0
    while env.agents:
        assert env.batch.phase == "decide"
        obs, *_ = env.step({a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.agents})
        rounds += 1
    assert rounds <= env.batch.rounds


def test_the_batch_steps_many_episodes_as_arrays():
    file, sets = CONFIGS["n5_f1_both"]
    e = 256
    batch = selfplay.slush_batch(EXPERIMENTS / file, set=sets, num_envs=e)
    env = make("n5_f1_both")
    batch.reset(seed=9)
    env_obs, _ = env.reset(seed=9)
    view = batch.observe()
    n, a = batch.n, batch.adversary_action_len
    assert view["honest_obs"].shape == (e, n, batch.obs_size)
    assert view["adversary_obs"].shape == (e, a, batch.adversary_obs_size)
    assert view["adversary_mask"].shape == (e, a, 3)
    # Episode 0 of a batch starts as the single environment's for the same
    # seed (its placement and colours; the samples are drawn after every
    # episode's start, so they differ).
    for agent, i in env.agent_ids().items():
        np.testing.assert_array_equal(view["honest_obs"][0, i], env_obs[agent]["observation"])
    rng = np.random.default_rng(0)
    paid = np.zeros((e, n), np.float32)
    attacks = np.zeros(e, np.float32)
    steps = 0
    while not view["over"].all():
        phase = batch.phase
        h = masked_choice(rng, view["honest_mask"])
        b = masked_choice(rng, view["adversary_mask"])
        assert view["acting"].any() == (phase == "decide")
        hr, ar, over = batch.step(h if phase == "decide" else None, b if phase == "answer" else None)
        paid += hr
        attacks += ar
        view = batch.observe()
        steps += 1
    assert steps <= 2 * batch.rounds
    out = batch.outcome()
    np.testing.assert_array_equal(attacks, out["attack_succeeded"].astype(np.float32))
    assert 0 < attacks.sum() < e
    assert (paid[~view["honest"]] == 0).all()
    with pytest.raises(RuntimeError, match="reset"):
        batch.step(h, b)


def masked_choice(rng, mask):
    scores = rng.random(mask.shape) * mask
    return scores.argmax(axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A short co-training run of the sampling game, as the CLI runs it."""
    out = tmp_path_factory.mktemp("slush") / "run"
    selfplay.run(
        EXPERIMENTS / "slush_cotrain.toml",
        out,
        set=["train.episodes=2048", "train.eval_every=2048", "eval.episodes=512"],
    )
    return out


def test_frozen_teams_are_played_in_rust(checkpoints):
    honest = checkpoints / "honest.safetensors"
    byzantine = checkpoints / "byzantine.safetensors"
    # A frozen honest team: only the answerers are Python's.
    attack = selfplay.slush_env(
        EXPERIMENTS / "slush_cotrain.toml",
        set=['honest.kind="frozen"', f'honest.checkpoint="{honest}"'],
    )
    assert attack.possible_agents == ["adversary"]
    parallel_api_test(attack, num_cycles=100)
    # Frozen answerers: only the honest nodes are Python's.
    defend = selfplay.slush_env(
        EXPERIMENTS / "slush_cotrain.toml",
        set=['byzantine.kind="frozen"', f'byzantine.checkpoint="{byzantine}"'],
    )
    assert defend.possible_agents == [f"honest_{k}" for k in range(4)]
    parallel_api_test(defend, num_cycles=100)
    parallel_seed_test(
        lambda: selfplay.slush_env(
            EXPERIMENTS / "slush_cotrain.toml",
            set=['byzantine.kind="frozen"', f'byzantine.checkpoint="{byzantine}"'],
        )
    )
    # The checkpoint the frozen team plays is one the verifier reads too.
    assert selfplay.verify_slush(n=5, f=1, checkpoint=honest)["protocol"] == "learned"
    # A checkpoint of the other team is refused, naming the key and the game.
    with pytest.raises(ValueError, match=r"\(game slush\): honest.checkpoint"):
        selfplay.slush_env(
            EXPERIMENTS / "slush_cotrain.toml",
            set=['honest.kind="frozen"', f'honest.checkpoint="{byzantine}"'],
        )
