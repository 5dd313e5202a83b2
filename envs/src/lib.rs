//! The protocol game of `GAME.md`: rules, batched environment, scripted
//! protocols and adversaries, and the exact verifier. No learning here.

pub mod adversaries;
pub mod batch;
pub mod budget;
pub mod comm;
pub mod exhaust;
pub mod inbox;
pub mod protocols;
pub mod rb;
pub mod rewards;
pub mod rules;
pub mod slush;
pub mod slush_exact;
pub mod spec;
pub mod trace;
pub mod verify;
pub mod view;

pub use adversaries::Adversary;
pub use batch::{instance_count, instances, sample_instance, BatchEnv};
pub use protocols::Protocol;
pub use rewards::{Rewards, RoundPenaltyAt, Terminal};
pub use rules::{Action, Episode, Instance, Outcome};
pub use spec::{Comm, ConfigError, EnvConfig, EnvSpec, Faults, Identity, Switch, Synchrony, NONE};
pub use trace::Trace;
pub use verify::{verify, Limits, Report, VerifyError};
pub use view::View;
