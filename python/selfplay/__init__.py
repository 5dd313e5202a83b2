"""selfplay from Python (issue 29): every game as a PettingZoo
``ParallelEnv`` (``consensus_env``, ``slush_env``, ``broadcast_env``, or
``make_env`` for the game a file names) and as a batch of episodes stepped
in Rust over numpy arrays (``consensus_batch``, ``slush_batch``,
``broadcast_batch``), all read from the same experiment files and
``--set`` overrides as the CLI; and the exact verifier as a function
(``verify``) on a scripted protocol, a table or a Python callable over
views."""

from typing import Sequence

from selfplay._selfplay import BroadcastBatch, ConsensusBatch, SlushBatch, _game_of
from selfplay.broadcast import BroadcastEnv, broadcast_batch, broadcast_env
from selfplay.consensus import ConsensusEnv, consensus_batch, consensus_env
from selfplay.sampling import SlushEnv, slush_batch, slush_env
from selfplay.verify import decision_table, optimal_attack_rate, run, verify, verify_broadcast, verify_slush

_ENVS = {"consensus": consensus_env, "slush": slush_env, "reliable_broadcast": broadcast_env}


def make_env(config, set: Sequence[str] = ()):
    """The PettingZoo ParallelEnv of the game experiment file ``config``
    names (``game = "..."``, after the ``--set`` overrides ``set``)."""
    game = _game_of(str(config), list(set))
    if game not in _ENVS:
        raise ValueError(
            f"{config}: game = \"{game}\" has no Python environment; the games that have one "
            f"are {', '.join(_ENVS)}"
        )
    return _ENVS[game](config, set)


__all__ = [
    "BroadcastBatch",
    "BroadcastEnv",
    "ConsensusBatch",
    "ConsensusEnv",
    "SlushBatch",
    "SlushEnv",
    "broadcast_batch",
    "broadcast_env",
    "consensus_batch",
    "consensus_env",
    "decision_table",
    "make_env",
    "optimal_attack_rate",
    "run",
    "slush_batch",
    "slush_env",
    "verify",
    "verify_broadcast",
    "verify_slush",
]
