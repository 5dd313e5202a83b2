//! Reliable broadcast (docs/reliable_broadcast.md): the learning run, both
//! teams' play, the greedy network as a protocol, `verify`, `synthesize` and
//! `explain`.

pub mod explain;
pub mod game;
pub mod play;
pub mod score;
pub mod synth;
pub mod verify;
