//! Learners, game-agnostic: networks over observations, masks, actions and
//! rewards (`mlp`, `learner`, `adam`), trajectories (`buffer`) and
//! checkpoints. Nothing here knows a game; the adapters that turn a game's
//! views into observations, and scripted teams into policies, live with
//! the runner (`selfplay::games::*`).

pub mod adam;
pub mod buffer;
pub mod checkpoint;
pub mod learner;
pub mod mlp;

pub use buffer::Buffer;
pub use learner::{Algo, Baseline, LearnConfig, Learner, Refusal, Stats, StatsSum};
