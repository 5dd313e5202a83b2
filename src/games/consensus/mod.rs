//! Consensus rounds (docs/rules.md): the run, its teams, the scores of a
//! row, hardening, and `explain`.

pub mod explain;
pub mod game;
pub mod harden;
pub mod score;
pub mod teams;
