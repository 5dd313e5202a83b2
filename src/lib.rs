//! `selfplay`: the command line, experiment configs, runners and exports.
//! The game lives in `envs`, policies and learners in `agents`.

pub mod bench;
pub mod config;
pub mod consensus;
pub mod explain;
pub mod export;
pub mod folder;
pub mod harden;
pub mod out;
pub mod plot;
pub mod rb_explain;
pub mod rb_learn;
pub mod rb_play;
pub mod rb_score;
pub mod rb_synth;
pub mod rb_verify;
pub mod run;
pub mod runner;
pub mod slush;
pub mod slush_explain;
pub mod slush_play;
pub mod slush_score;
pub mod slush_verify;
pub mod state;
pub mod sweep;
pub mod teams;
pub mod timing;
