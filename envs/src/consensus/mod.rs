//! Consensus rounds (docs/rules.md): agents exchange messages in
//! synchronous or delayed rounds, then decide. Its rules, batched engine,
//! scripted protocols and adversaries, and the exact verifier.

pub mod adversaries;
pub mod batch;
pub mod budget;
pub mod comm;
pub mod exhaust;
pub mod inbox;
pub mod protocols;
pub mod rewards;
pub mod rules;
pub mod spec;
pub mod trace;
pub mod verify;
pub mod view;

pub use adversaries::Adversary;
pub use batch::{instance_count, instances, sample_instance, BatchEnv};
pub use comm::Outcome;
pub use protocols::Protocol;
pub use rewards::{Rewards, RoundPenaltyAt, Terminal};
pub use rules::{Action, Episode, Instance};
pub use spec::{Comm, ConfigError, EnvConfig, EnvSpec, Faults, Identity, Switch, Synchrony, NONE};
pub use trace::Trace;
pub use verify::{verify, Limits, Report, VerifyError};
pub use view::View;
