//! Snowball's experiment file: the keys of the shared tables it reads, and
//! its own `[snowball]` (`envs::sampling::snowball::SnowballConfig`).

use crate::config::{ByzantineConfig, EvalConfig, Kind, TrainConfig};
use agents::LearnConfig;
use envs::consensus::EnvConfig;
use std::path::PathBuf;

crate::experiment_file! {
    /// An experiment of Snowball at Avalanche's size.
    pub struct File {
        env: Env,
        byzantine: Byzantine,
        train: Train,
        eval: Eval,
        snowball: Option<envs::sampling::snowball::SnowballConfig>,
    }
}

crate::some_keys! {
    /// `[env]`: the nodes and the Byzantine ones.
    pub struct Env of EnvConfig { n: usize, f: usize }
}

crate::some_keys! {
    /// `[byzantine]`: the scripted adversary (one row) when `eval.adversaries`
    /// is empty; or `kind = "learned"` (a network trained with `learn`,
    /// from `checkpoint` if given) or `"frozen"` (the network of
    /// `checkpoint`, played greedily), a row `learned` beside the scripted
    /// rows of `eval.adversaries`.
    pub struct Byzantine of ByzantineConfig {
        kind: Kind,
        adversary: String,
        checkpoint: Option<PathBuf>,
        learn: LearnConfig,
    }
}

crate::some_keys! {
    /// `[train]`: when the Byzantine team learns, the training episodes in
    /// all, per update, and between evaluation rows.
    pub struct Train of TrainConfig { episodes: u64, batch: usize, eval_every: u64 }
}

crate::some_keys! {
    /// `[eval]`: the sampled episodes, the batch stepped together, and the
    /// scripted adversaries (a row each).
    pub struct Eval of EvalConfig { episodes: u64, batch: usize, adversaries: Vec<String> }
}
