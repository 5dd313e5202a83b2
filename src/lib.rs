//! `selfplay`: the command line, experiment configs, the one runner and
//! what every game shares; each game's own part is a folder of `games`.
//! The rules live in `envs`, policies and learners in `agents`.

pub mod bench;
pub mod config;
pub mod experiment_file;
pub mod export;
pub mod folder;
pub mod games;
pub mod memory;
pub mod out;
pub mod plot;
pub mod runner;
pub mod state;
pub mod stats;
pub mod streams;
pub mod sweep;
pub mod timing;
