//! Avalanche's sampling game (docs/learning.md): the run, both teams' play,
//! the attack figures, `verify --game slush` and `explain`.

pub mod explain;
pub mod game;
pub mod play;
pub mod score;
pub mod verify;
