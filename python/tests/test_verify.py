"""The exact verifier from Python: the textbook figures docs/rules.md
states (and envs/tests/textbook.rs pins for `selfplay verify`), and the
same verdict for a protocol given by name, as a table and as a callable."""

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
