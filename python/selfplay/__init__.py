"""selfplay from Python (issue 29): the consensus game as a PettingZoo
``ParallelEnv`` (``consensus_env``) and as a batch of episodes stepped in
Rust over numpy arrays (``consensus_batch``), both read from the same
experiment files and ``--set`` overrides as the CLI."""

from selfplay._selfplay import ConsensusBatch
from selfplay.consensus import ConsensusEnv, consensus_batch, consensus_env

__all__ = ["ConsensusBatch", "ConsensusEnv", "consensus_batch", "consensus_env"]
