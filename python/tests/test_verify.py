"""The exact verifier from Python: the textbook figures docs/rules.md
states (and envs/tests/textbook.rs pins for `selfplay verify`), and the
same verdict for a protocol given by name, as a table and as a callable."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import selfplay

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
MAJORITY = EXPERIMENTS / "majority.toml"  # n = 3, f = 1, authenticated, majority


@pytest.mark.parametrize(
    "set, protocol, broken, instances",
    [
        ([], None, 6, 12),  # equivocation breaks majority at n = 3, f = 1
        (["env.n=4"], None, 12, 32),
        (["env.n=4", 'env.identity="pki"'], None, 12, 32),
        (["env.n=4", 'env.identity="pki"'], "signed_relay", 0, 32),
        (['env.identity="pki"'], "signed_relay", 0, 12),
        ([], "signed_relay", 9, 12),  # n <= 3f without signatures
        ([], "constant", 3, 12),  # validity, when every input is 1
    ],
)
def test_textbook_figures(set, protocol, broken, instances):
    r = selfplay.verify(MAJORITY, set=set, protocol=protocol)
    assert (r["broken_instances"], r["instances"]) == (broken, instances)
    assert r["optimal_attack_rate"] == broken / instances
    assert r["verified"] == (broken == 0)
    assert (r["counterexample"] is None) == (broken == 0)
    assert (r["counterexample_text"] is None) == (broken == 0)


def majority_by_hand(obs):
    """majority at n = 3 (authenticated, 2 rounds) read off the one-hot
    observation: input (2), round (2), then round 1's four slots (two
    direct values, two relays), each one-hot over {0, 1, nothing}."""
    own = int(obs[1] == 1)
    if obs[2] == 1:  # round 1
        return 0
    direct = obs[4:16].reshape(4, 3)[:2]
    ones = own + int(direct[:, 1].sum())
    zeros = 1 - own + int(direct[:, 0].sum())
    return 2 if ones > zeros else 1


def test_a_table_and_a_callable_get_the_scripted_verdict():
    scripted = selfplay.verify(MAJORITY)
    table = selfplay.decision_table(MAJORITY)
    assert len(table) > 0 and set(table.values()) <= {0, 1, 2}
    by_table = selfplay.verify(MAJORITY, protocol=table)
    by_hand = selfplay.verify(MAJORITY, protocol=majority_by_hand)
    for r in (by_table, by_hand):
        for k in ("optimal_attack_rate", "broken_instances", "instances", "verified"):
            assert r[k] == scripted[k], k
    # The table the callable gives is the scripted protocol's, view by view.
    assert selfplay.decision_table(MAJORITY, protocol=majority_by_hand) == table


def test_a_table_missing_a_view_or_a_failing_callable_raises():
    table = selfplay.decision_table(MAJORITY)
    table.pop(next(iter(table)))
    with pytest.raises(KeyError, match="no action for the view"):
        selfplay.verify(MAJORITY, protocol=table)
    with pytest.raises(ValueError, match="not an action"):
        selfplay.verify(MAJORITY, protocol=lambda obs: 7)

    def fails(obs):
        raise ZeroDivisionError("inside the protocol")

    with pytest.raises(ZeroDivisionError):
        selfplay.verify(MAJORITY, protocol=fails)


def test_a_learning_honest_team_needs_a_protocol_given():
    with pytest.raises(ValueError, match="give the protocol"):
        selfplay.verify(EXPERIMENTS / "cotrain.toml")
    # The environment's observations are what the callable reads: a
    # protocol that always commits 0 loses validity when all inputs are 1.
    r = selfplay.verify(EXPERIMENTS / "cotrain.toml", protocol=lambda obs: 1)
    assert r["broken_instances"] > 0
    assert np.isclose(r["optimal_attack_rate"], r["broken_instances"] / r["instances"])


def cli():
    """The CLI binary the Python answers are checked against: $SELFPLAY_BIN,
    else the build under $CARGO_TARGET_DIR or target/ (`cargo build`;
    scripts/test's `cargo test --workspace` builds it first)."""
    if os.environ.get("SELFPLAY_BIN"):
        return os.environ["SELFPLAY_BIN"]
    root = Path(__file__).resolve().parents[2]
    targets = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    targets.append(root / "target")
    for t in targets:
        for profile in ("release", "debug"):
            if (t / profile / "selfplay").is_file():
                return str(t / profile / "selfplay")
    pytest.fail("no selfplay binary to compare with: run `cargo build` (or set SELFPLAY_BIN)")


def cli_verify(*args):
    out = subprocess.run([cli(), "verify", *args, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def same_report(got, want):
    # Everything the CLI reports but the time it took.
    for key, value in want.items():
        if "second" in key or key.endswith("_s"):
            continue
        assert got[key] == value, key


def test_a_scripted_protocol_gets_the_clis_verdict():
    same_report(selfplay.verify(MAJORITY, set=["env.n=4"]), cli_verify("--protocol", "majority", "--n", "4", "--f", "1"))
    same_report(
        selfplay.verify(MAJORITY, set=['env.identity="pki"'], protocol="signed_relay"),
        cli_verify("--protocol", "signed_relay", "--n", "3", "--f", "1", "--identity", "pki"),
    )


def test_a_checkpoint_gets_the_clis_verdict(tmp_path):
    out = tmp_path / "run"
    selfplay.run(
        EXPERIMENTS / "cotrain.toml",
        out,
        set=["train.episodes=2048", "train.eval_every=1024", "eval.episodes=256"],
    )
    checkpoint = out / "honest.safetensors"
    assert checkpoint.is_file()
    got = selfplay.verify(checkpoint=checkpoint)
    want = cli_verify("--checkpoint", str(checkpoint))
    same_report(got, want)
    assert got["instances"] == 12  # n = 3, f = 1: 3 placements, 4 honest input vectors
    assert selfplay.optimal_attack_rate(checkpoint=checkpoint) == want["optimal_attack_rate"]
    # The run folder is the CLI's: a second run into it is refused.
    with pytest.raises(RuntimeError):
        selfplay.run(EXPERIMENTS / "cotrain.toml", out, set=["train.episodes=2048"])
    with pytest.raises(TypeError):
        selfplay.verify(MAJORITY, checkpoint=checkpoint)


@pytest.mark.parametrize(
    "kwargs, flags",
    [
        (dict(n=5, f=1, protocol="snowflake"), ["--protocol", "snowflake", "--n", "5", "--f", "1"]),
        (
            dict(n=5, f=1, protocol="slush", ones=2, blind=True, rounds=6),
            ["--protocol", "slush", "--n", "5", "--f", "1", "--ones", "2", "--blind", "--rounds", "6"],
        ),
    ],
)
def test_the_sampling_game_gets_the_clis_verdict(kwargs, flags):
    got = selfplay.verify_slush(**kwargs)
    want = cli_verify("--game", "slush", *flags)
    same_report(got, want)
    assert got["protocol"] == kwargs["protocol"] and got["configurations"] > 0


def test_the_sampling_games_errors_name_the_flag():
    with pytest.raises(ValueError, match="game slush: --beta 3: only snowflake"):
        selfplay.verify_slush(n=5, f=1, protocol="slush", beta=3)


@pytest.mark.parametrize(
    "kwargs, flags, verified",
    [
        (dict(protocol="bracha", n=4, f=1), ["--protocol", "bracha", "--n", "4", "--f", "1"], True),
        (
            dict(protocol="bracha", n=3, f=1),
            ["--protocol", "bracha", "--n", "3", "--f", "1"],
            False,
        ),
    ],
)
def test_reliable_broadcast_gets_the_clis_verdict(kwargs, flags, verified):
    got = selfplay.verify_broadcast(**kwargs)
    want = cli_verify("--game", "reliable_broadcast", *flags)
    same_report(got, want)
    assert got["verified"] == verified
    assert (got["counterexample_text"] is None) == verified


def slush_by_hand(k, rounds, alpha):
    """Slush over the environment's one-hot view (own colour, round, counts
    of 0s and 1s): adopt the other colour on alpha answers of it, commit in
    the last round. Stateless, so the exact search takes it as a table."""

    def protocol(obs):
        colour = int(obs[1] == 1)
        round_ = int(np.flatnonzero(obs[2:2 + rounds])[0]) + 1
        counts = obs[2 + rounds:].reshape(2, k + 1).argmax(axis=1)
        if round_ == rounds:
            return 2
        other = 1 - colour
        return other if counts[other] >= alpha else colour

    return protocol


def test_a_callable_in_the_sampling_game_gets_scripted_slushs_figures():
    scripted = selfplay.verify_slush(n=5, f=1, protocol="slush")
    mine = selfplay.verify_slush(n=5, f=1, protocol=slush_by_hand(3, 8, 2))
    assert mine["protocol"] == "python"
    for key in ("optimal_attack_rate", "optimal_majority_attack_rate", "optimal_correctness_attack_rate"):
        assert mine[key] == pytest.approx(scripted[key], abs=1e-12), key
    assert [s["ones"] for s in mine["splits"]] == [s["ones"] for s in scripted["splits"]]
    # A protocol that never moves off its colour loses the majority more often.
    stubborn = selfplay.verify_slush(n=5, f=1, protocol=lambda obs: 2 if obs[2 + 7] == 1 else int(obs[1] == 1))
    assert stubborn["optimal_attack_rate"] != scripted["optimal_attack_rate"]
    with pytest.raises(ValueError, match="only 2 in the last round"):
        selfplay.verify_slush(n=5, f=1, protocol=lambda obs: 0)


def bracha_by_hand(n, f):
    """Bracha's double echo over the environment's raw-count view: input
    (2), first INIT (2), the counts of ECHO 0, ECHO 1, READY 0, READY 1 as
    thermometers of n units, messages sent (6), delivery (2)."""

    def protocol(obs):
        count = obs[4:4 + 4 * n].reshape(4, n).sum(axis=1)
        sent = obs[4 + 4 * n:4 + 4 * n + 6]
        init = 2 if not obs[0:2].any() else int(obs[1] == 1)
        echo = 2 if not obs[2:4].any() or sent[2:4].any() else int(obs[3] == 1)
        ready = 2
        if not sent[4:6].any():
            for v in (0, 1):
                if count[v] >= (n + f) // 2 + 1 or count[2 + v] > f:
                    ready = v
                    break
        deliver = next((v for v in (0, 1) if count[2 + v] > 2 * f), 2)
        return [init, echo, ready, deliver]

    return protocol


@pytest.mark.parametrize("n, verified", [(4, True), (3, False)])
def test_a_callable_in_reliable_broadcast_gets_scripted_brachas_verdict(n, verified):
    scripted = selfplay.verify_broadcast(protocol="bracha", n=n, f=1)
    mine = selfplay.verify_broadcast(protocol=bracha_by_hand(n, 1), n=n, f=1)
    assert mine["protocol"] == "python"
    for key in ("verified", "optimal_attack_rate", "broken_instances", "instances", "broken"):
        assert mine[key] == scripted[key], key
    assert mine["verified"] == verified
    # Delivering on the first INIT breaks agreement when the sender lies.
    def hasty(obs):
        first = obs[2:4].any()
        return [2 if not obs[0:2].any() else int(obs[1] == 1), 2, 2, int(obs[3] == 1) if first else 2]

    assert not selfplay.verify_broadcast(protocol=hasty, n=4, f=1)["verified"]
    with pytest.raises(ValueError, match="not four classes"):
        selfplay.verify_broadcast(protocol=lambda obs: [0, 0], n=4, f=1)
