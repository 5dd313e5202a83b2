//! The sampling game's experiment file: the keys of the shared tables it
//! reads, and its own `[slush]` (`envs::sampling::SlushConfig`).

use crate::config::EvalConfig;
use envs::consensus::EnvConfig;

crate::experiment_file! {
    /// An experiment of the sampling game.
    pub struct File {
        env: Env,
        honest: crate::config::HonestConfig,
        byzantine: crate::config::ByzantineConfig,
        train: crate::config::LearningTrain,
        eval: Eval,
        rewards: envs::consensus::Rewards,
        slush: envs::sampling::SlushConfig,
    }
}

crate::some_keys! {
    /// `[env]`: the nodes, the Byzantine ones, and the initial split.
    pub struct Env of EnvConfig { n: usize, f: usize, ones: Option<usize> }
}

crate::some_keys! {
    /// `[eval]`: the sampled evaluation and the exact search's bound.
    pub struct Eval of EvalConfig { episodes: u64, batch: usize, max_work: f64 }
}
