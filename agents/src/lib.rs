//! Policies and learners. A policy acts for a whole batch of episodes at
//! once; scripted protocols and adversaries from `envs` are policies through
//! the adapters here, so learned and scripted teams are interchangeable.

pub mod policy;
pub mod rollout;

pub use policy::{ByzantinePolicy, HonestPolicy, ScriptedByzantine, ScriptedHonest};
pub use rollout::{Rollout, Tally};
