//! Reliable broadcast (issue 16): an asynchronous, event-driven game with
//! no clock, where the designated sender's value must reach every correct
//! agent or none, whatever the Byzantine agents and the scheduler do.
//! `game` holds the rules and the named properties, `protocols` the
//! scripted protocols and their registry, `search` the exact verifier and
//! `trace` its readable counterexamples, `play` batched episodes for
//! learning teams; `grammar` is RB-Learner's program grammar and `synth`
//! the synthesis over it. See `docs/reliable_broadcast.md`.

pub mod config;
pub mod explore;
pub mod game;
pub mod grammar;
pub mod mirror;
pub mod play;
pub mod protocols;
pub mod search;
pub mod synth;
pub mod ta;
pub mod threshold;
pub mod trace;

pub use game::{
    instances, Decision, Instance, Kind, Msg, RbFaults, RbSpec, Semantics, View, PROPERTIES,
};
pub use protocols::{RbProtocol, Scripted, REGISTRY};
pub use search::{verify, Limits, Report, TooBig};
