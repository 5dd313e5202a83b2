//! Honest protocols: deterministic maps from a view to an action. The scripted
//! ones of docs/rules.md live here, one file each, registered once in
//! [`REGISTRY`]; a learned policy played greedily implements the same trait,
//! which is what lets the verifier check either. A new scripted protocol is
//! a file in this folder and one line in the registry.

mod constant;
mod dolev_strong;
mod flood_commit;
mod floodset;
mod majority;
mod signed_relay;
mod vote_commit;

pub use constant::Constant;
pub use dolev_strong::DolevStrong;
pub use flood_commit::FloodCommit;
pub use floodset::FloodSet;
pub use majority::Majority;
pub use signed_relay::SignedRelay;
pub use vote_commit::VoteCommit;

use crate::consensus::rules::Action;
use crate::consensus::spec::{EnvSpec, Identity};
use crate::consensus::view::View;

/// A deterministic honest protocol, run by every honest agent.
pub trait Protocol: Send + Sync {
    /// Name used in outputs (`majority`, a checkpoint path, ...).
    fn name(&self) -> String;

    /// The number of rounds the protocol is written for: the default `R`.
    fn rounds(&self) -> u8;

    /// The default `R` with `f` faulty agents, for protocols whose length depends on it.
    fn rounds_for(&self, _f: usize) -> u8 {
        self.rounds()
    }

    /// Why this protocol cannot run in `spec`, if it cannot.
    fn check(&self, _spec: &EnvSpec) -> Result<(), String> {
        Ok(())
    }

    /// The action at `view.round`. In the last round it must commit.
    fn act(&self, view: &View) -> Action;
}

/// How a registered protocol is built.
pub type BuildProtocol = fn() -> Box<dyn Protocol>;

/// Every scripted protocol: its name and how to build it. The one place a
/// protocol is registered; every list of names is read from here.
pub const REGISTRY: &[(&str, BuildProtocol)] = &[
    ("majority", || Box::new(Majority)),
    ("signed_relay", || Box::new(SignedRelay)),
    ("constant", || Box::new(Constant)),
    ("floodset", || Box::new(FloodSet)),
    ("vote_commit", || Box::new(VoteCommit)),
    ("flood_commit", || Box::new(FloodCommit)),
    ("dolev_strong", || Box::new(DolevStrong)),
];

/// Names of the scripted honest protocols every build carries, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(name, _)| *name).collect()
}

/// A scripted protocol by name.
pub fn scripted(name: &str) -> Option<Box<dyn Protocol>> {
    REGISTRY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, build)| build())
}

/// The majority of `ones` 1-votes and `zeros` 0-votes; a tie decides 0.
pub(crate) fn majority(zeros: usize, ones: usize) -> Action {
    Action::commit((ones > zeros) as u8)
}

/// Why a protocol that counts every agent's input cannot run in `spec`.
pub(crate) fn reads_inputs(name: &str, spec: &EnvSpec) -> Result<(), String> {
    if spec.broadcasts() {
        Err(format!(
            "{name} counts every agent's input, and in a broadcast only the designated \
             sender has one: use dolev_strong"
        ))
    } else {
        Ok(())
    }
}

/// Why a protocol that reads relays cannot run in `spec`.
pub(crate) fn reads_relays(name: &str, spec: &EnvSpec) -> Result<(), String> {
    reads_inputs(name, spec)?;
    if spec.identity() == Identity::Anonymous {
        Err(format!(
            "{name} reads relays, and anonymous channels carry none"
        ))
    } else {
        Ok(())
    }
}

/// Why a flooding protocol cannot run in `spec`: it reads relays, and its
/// one-hop relays only cover a single crash.
pub(crate) fn flooding_check(name: &str, spec: &EnvSpec) -> Result<(), String> {
    reads_relays(name, spec)?;
    if spec.f() > 1 {
        return Err(format!(
            "{name} floods for 2 rounds, which covers f = 1; f = {} needs relays of relays, \
             and agreement's messages carry one hop of relays (chains of any length are \
             built for broadcasts only: dolev_strong)",
            spec.f()
        ));
    }
    Ok(())
}
