"""selfplay from Python (issue 29): the consensus game as a PettingZoo
``ParallelEnv`` (``consensus_env``) and as a batch of episodes stepped in
Rust over numpy arrays (``consensus_batch``), both read from the same
experiment files and ``--set`` overrides as the CLI; and the exact
verifier as a function (``verify``) on a scripted protocol, a table or a
Python callable over views."""

from selfplay._selfplay import ConsensusBatch
from selfplay.consensus import ConsensusEnv, consensus_batch, consensus_env
from selfplay.verify import decision_table, verify

__all__ = [
    "ConsensusBatch",
    "ConsensusEnv",
    "consensus_batch",
    "consensus_env",
    "decision_table",
    "verify",
]
