//! Reliable broadcast's experiment file: the keys of the shared tables it
//! reads, and its own `[rb]` (`envs::broadcast::config::RbConfig`).

use crate::config::{ByzantineConfig, EvalConfig, HonestConfig, Kind};
use agents::LearnConfig;
use envs::consensus::{EnvConfig, Faults};
use std::path::PathBuf;

crate::experiment_file! {
    /// An experiment of reliable broadcast.
    pub struct File {
        env: Env,
        honest: Honest,
        byzantine: Byzantine,
        train: crate::config::LearningTrain,
        eval: Eval,
        rb: Option<envs::broadcast::config::RbConfig>,
    }
}

crate::some_keys! {
    /// `[env]`: the size and the kind of fault (the rest is the game's own).
    pub struct Env of EnvConfig { n: usize, f: usize, faults: Faults }
}

crate::some_keys! {
    /// `[honest]`: a learned or frozen network (its protocols are `verify`'s).
    pub struct Honest of HonestConfig { kind: Kind, learn: LearnConfig, checkpoint: Option<PathBuf> }
}

crate::some_keys! {
    /// `[byzantine]`: a learned or frozen network, or the scripted attack.
    pub struct Byzantine of ByzantineConfig { kind: Kind, learn: LearnConfig, checkpoint: Option<PathBuf> }
}

crate::some_keys! {
    /// `[eval]`: the sampled evaluation (the exact answers are `[rb]`'s).
    pub struct Eval of EvalConfig { episodes: u64, batch: usize }
}
