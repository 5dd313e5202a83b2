//! Teams as batched policies: the adapters between the game (`envs`) and
//! the game-agnostic learners (`agents`). A policy acts for a whole batch of
//! episodes at once; scripted protocols and adversaries are policies through
//! `policy`, networks through `learned`, and `rollout` plays both teams
//! through a batch and tallies the outcomes.

pub mod learned;
pub mod policy;
pub mod rollout;
pub mod team;

pub use learned::{GreedyHonest, LearnedByzantine, LearnedHonest, ReplayByzantine};
pub use policy::{ByzantinePolicy, HonestPolicy, ScriptedByzantine, ScriptedHonest};
pub use rollout::{Rollout, Tally};
