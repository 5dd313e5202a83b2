"""Every experiment file of the repository, through selfplay.make_env: the
environment of the game it names passes PettingZoo's API test (when Rust
plays both teams, with the adversary made Python's), and a game with no
Python environment (Snowball) is refused by name. A new experiment file is
tested here without a line added."""

import contextlib
import io
from pathlib import Path

import pytest
from pettingzoo.test import parallel_api_test

import selfplay

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
FILES = sorted(EXPERIMENTS.glob("*.toml"))
NO_ENV = {"snowball"}


def test_the_files_are_found():
    assert len(FILES) >= 30


@pytest.mark.parametrize("file", FILES, ids=lambda p: p.stem)
def test_every_experiment_makes_its_env(file):
    game = selfplay._selfplay._game_of(str(file), [])
    if game in NO_ENV:
        with pytest.raises(ValueError, match=f'game = "{game}" has no Python environment'):
            selfplay.make_env(file)
        return
    try:
        env = selfplay.make_env(file)
    except ValueError as e:
        # Both teams scripted or frozen: the adversary becomes Python's.
        assert "nothing is left" in str(e), e
        env = selfplay.make_env(file, set=["byzantine.kind=learned", "train.episodes=1000"])
    expected = {"consensus": selfplay.ConsensusEnv, "slush": selfplay.SlushEnv,
                "reliable_broadcast": selfplay.BroadcastEnv}[game]
    assert isinstance(env, expected)
    with contextlib.redirect_stdout(io.StringIO()):
        parallel_api_test(env, num_cycles=20)
