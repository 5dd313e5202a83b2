//! Policies and learners. A policy acts for a whole batch of episodes at
//! once; scripted protocols and adversaries from `envs` are policies through
//! the adapters here, so learned and scripted teams are interchangeable.

pub mod adam;
pub mod buffer;
pub mod checkpoint;
pub mod learned;
pub mod learner;
pub mod mlp;
pub mod policy;
pub mod rollout;

pub use buffer::Buffer;
pub use learned::{GreedyHonest, LearnedByzantine, LearnedHonest, ReplayByzantine};
pub use learner::{Algo, Baseline, LearnConfig, Learner, Stats, StatsSum};
pub use policy::{ByzantinePolicy, HonestPolicy, ScriptedByzantine, ScriptedHonest};
pub use rollout::{Rollout, Tally};
