//! Snowball's experiment file: the keys of the shared tables it reads, and
//! its own `[snowball]` (`envs::sampling::snowball::SnowballConfig`).

use crate::config::{ByzantineConfig, EvalConfig};
use envs::consensus::EnvConfig;

crate::experiment_file! {
    /// An experiment of Snowball at Avalanche's size.
    pub struct File {
        env: Env,
        byzantine: Byzantine,
        eval: Eval,
        snowball: Option<envs::sampling::snowball::SnowballConfig>,
    }
}

crate::some_keys! {
    /// `[env]`: the nodes and the Byzantine ones.
    pub struct Env of EnvConfig { n: usize, f: usize }
}

crate::some_keys! {
    /// `[byzantine]`: the scripted adversary (one row), when
    /// `eval.adversaries` is empty.
    pub struct Byzantine of ByzantineConfig { adversary: String }
}

crate::some_keys! {
    /// `[eval]`: the sampled episodes, the batch stepped together, and the
    /// scripted adversaries (a row each).
    pub struct Eval of EvalConfig { episodes: u64, batch: usize, adversaries: Vec<String> }
}
