//! Honest protocols: deterministic maps from a view to an action. The scripted
//! ones of `GAME.md` live here; a learned policy played greedily implements
//! the same trait, which is what lets the verifier check either.

use crate::rules::Action;
use crate::spec::{Comm, EnvSpec, Identity, NONE};
use crate::view::View;

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

/// Names of the scripted honest protocols every build carries.
pub const SCRIPTED: &[&str] = &[
    "majority",
    "signed_relay",
    "constant",
    "floodset",
    "vote_commit",
    "flood_commit",
    "dolev_strong",
];

/// A scripted protocol by name.
pub fn scripted(name: &str) -> Option<Box<dyn Protocol>> {
    match name {
        "majority" => Some(Box::new(Majority)),
        "signed_relay" => Some(Box::new(SignedRelay)),
        "constant" => Some(Box::new(Constant)),
        "floodset" => Some(Box::new(FloodSet)),
        "vote_commit" => Some(Box::new(VoteCommit)),
        "flood_commit" => Some(Box::new(FloodCommit)),
        "dolev_strong" => Some(Box::new(DolevStrong)),
        _ => None,
    }
}

/// The majority of `ones` 1-votes and `zeros` 0-votes; a tie decides 0.
fn majority(zeros: usize, ones: usize) -> Action {
    Action::commit((ones > zeros) as u8)
}

/// Round 1 `send`; round 2 commit the majority of own input and the direct
/// values received (nothing is not a vote); tie -> 0.
pub struct Majority;

impl Protocol for Majority {
    fn name(&self) -> String {
        "majority".into()
    }

    fn rounds(&self) -> u8 {
        2
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        reads_inputs("majority", spec)
    }

    fn act(&self, view: &View) -> Action {
        if view.round == 1 && !view.is_last_round() {
            return Action::Send;
        }
        let mut votes = [0usize; 2];
        votes[view.input as usize] += 1;
        if view.round > 1 {
            let [z, o] = view.counts(1);
            votes[0] += z as usize;
            votes[1] += o as usize;
        }
        majority(votes[0], votes[1])
    }
}

/// For `f = 1`: rounds 1 and 2 `send`; round 3 decide. For each other agent
/// `k`, the values of `k`'s round-1 message seen directly or relayed in round
/// 2 by some `j != k`: exactly one value is `k`'s vote, none or both and `k`
/// is ignored. Commit the majority of own input and the votes; tie -> 0.
pub struct SignedRelay;

impl Protocol for SignedRelay {
    fn name(&self) -> String {
        "signed_relay".into()
    }

    fn rounds(&self) -> u8 {
        3
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        reads_relays("signed_relay", spec)
    }

    fn act(&self, view: &View) -> Action {
        if view.round <= 2 && !view.is_last_round() {
            return Action::Send;
        }
        let mut votes = [0usize; 2];
        votes[view.input as usize] += 1;
        for seen in view.round_one_values() {
            match seen {
                0b01 => votes[0] += 1,
                0b10 => votes[1] += 1,
                _ => {}
            }
        }
        majority(votes[0], votes[1])
    }
}

/// Commit 0 in round 1: always agrees, fails validity on unanimous 1s.
pub struct Constant;

impl Protocol for Constant {
    fn name(&self) -> String {
        "constant".into()
    }

    fn rounds(&self) -> u8 {
        1
    }

    fn act(&self, _view: &View) -> Action {
        Action::Commit0
    }
}

/// Why a protocol that counts every agent's input cannot run in `spec`.
fn reads_inputs(name: &str, spec: &EnvSpec) -> Result<(), String> {
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
fn reads_relays(name: &str, spec: &EnvSpec) -> Result<(), String> {
    reads_inputs(name, spec)?;
    if spec.identity == Identity::Anonymous {
        Err(format!(
            "{name} reads relays, and anonymous channels carry none"
        ))
    } else {
        Ok(())
    }
}

/// Why a flooding protocol cannot run in `spec`: it reads relays, and its
/// one-hop relays only cover a single crash.
fn flooding_check(name: &str, spec: &EnvSpec) -> Result<(), String> {
    reads_relays(name, spec)?;
    if spec.f > 1 {
        return Err(format!(
            "{name} floods for 2 rounds, which covers f = 1; f = {} needs relays of relays \
             (signature chains), which the game does not have yet",
            spec.f
        ));
    }
    Ok(())
}

/// FloodSet for crash faults, `f = 1`: rounds 1 and 2 `send`; round 3 commit
/// the smallest value among own input, the round-1 values received directly
/// and those relayed in round 2. Two correct agents end with the same set:
/// whatever the crashed agent told one of them, that one relayed to the other.
pub struct FloodSet;

impl Protocol for FloodSet {
    fn name(&self) -> String {
        "floodset".into()
    }

    fn rounds(&self) -> u8 {
        3
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        flooding_check("floodset", spec)
    }

    fn act(&self, view: &View) -> Action {
        if view.round <= 2 && !view.is_last_round() {
            return Action::Send;
        }
        let zero = view.input == 0 || view.round_one_values().iter().any(|&x| x & 1 == 1);
        Action::commit(!zero as u8)
    }
}

/// The naive atomic commit: round 1 `send` the vote; round 2 commit iff own
/// vote and every other agent's vote, received directly, are yes. A crash in
/// round 1 that reaches one agent only splits the decision (P1).
pub struct VoteCommit;

impl Protocol for VoteCommit {
    fn name(&self) -> String {
        "vote_commit".into()
    }

    fn rounds(&self) -> u8 {
        2
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        reads_inputs("vote_commit", spec)?;
        if spec.identity == Identity::Anonymous {
            Err("vote_commit needs to know who voted; anonymous channels only count".into())
        } else {
            Ok(())
        }
    }

    fn act(&self, view: &View) -> Action {
        if view.round == 1 && !view.is_last_round() {
            return Action::Send;
        }
        let yes =
            view.input == 1 && view.round > 1 && (0..view.n() - 1).all(|d| view.direct(1, d) == 1);
        Action::commit(yes as u8)
    }
}

/// Atomic commit for one crash: rounds 1 and 2 `send` (votes, then relays of
/// the votes heard); round 3 commit iff every agent's vote is known, directly
/// or relayed, and every vote is yes. Correct agents know the same votes.
pub struct FloodCommit;

impl Protocol for FloodCommit {
    fn name(&self) -> String {
        "flood_commit".into()
    }

    fn rounds(&self) -> u8 {
        3
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        if spec.comm != Comm::AtomicCommit {
            return Err(
                "flood_commit decides commit or abort: use comm = \"atomic_commit\"".into(),
            );
        }
        flooding_check("flood_commit", spec)
    }

    fn act(&self, view: &View) -> Action {
        if view.round <= 2 && !view.is_last_round() {
            return Action::Send;
        }
        let yes = view.input == 1 && view.round_one_values().iter().all(|&x| x == 0b10);
        Action::commit(yes as u8)
    }
}

/// Dolev-Strong broadcast, for any `f < n` with `pki`: every round but the
/// last `send` (the designated sender signs its input in round 1; from then
/// on every agent forwards each value it first received the round before,
/// adding its signature: see [`crate::rules::deliver_honest`]); in the last
/// round decide the value extracted if exactly one was, else 0. With `f + 1`
/// rounds of messages a value an honest agent extracts late came through a
/// chain with an honest signer, who forwarded it to everyone.
pub struct DolevStrong;

impl Protocol for DolevStrong {
    fn name(&self) -> String {
        "dolev_strong".into()
    }

    fn rounds(&self) -> u8 {
        3
    }

    fn rounds_for(&self, f: usize) -> u8 {
        (f + 2).min(16) as u8
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        if !spec.broadcasts() {
            return Err(
                "dolev_strong is a broadcast protocol: use comm = \"broadcast\" \
                        (or \"interactive_consistency\", one broadcast per entry)"
                    .into(),
            );
        }
        Ok(())
    }

    fn act(&self, view: &View) -> Action {
        if !view.is_last_round() {
            return Action::Send;
        }
        let mut extracted = view.extracted();
        if view.input != NONE {
            extracted |= 1 << view.input;
        }
        Action::commit((extracted == 0b10) as u8)
    }
}
