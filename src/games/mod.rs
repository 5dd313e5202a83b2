//! The games as the runner plays them, one folder each: its config, its
//! run (the `runner::Game` implementation), its teams, scores, verifier
//! command and explanations. The rules themselves live in `envs`, in the
//! folder of the same name.

pub mod broadcast;
pub mod consensus;
pub mod sampling;
