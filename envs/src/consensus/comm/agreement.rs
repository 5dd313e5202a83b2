//! Byzantine agreement: every honest agent has an input; the honest agents
//! agree, and keep a unanimous input.

use super::{Mode, Part, Property};
use crate::consensus::rules::{all, Episode};
use crate::consensus::spec::ModeShape;

pub struct Agreement;

impl ModeShape for Agreement {}

impl Mode for Agreement {
    fn properties(&self) -> &'static [Property] {
        PROPERTIES
    }
}

const PROPERTIES: &[Property] = &[
    Property {
        name: "agreement",
        part: Part::Agreement,
        holds: |s, ep| agreement(s.n(), ep),
    },
    Property {
        name: "validity",
        part: Part::Validity,
        holds: |s, ep| validity(s.n(), ep),
    },
    Property {
        name: "termination",
        part: Part::Termination,
        holds: |s, ep| termination(s.n(), ep),
    },
];

/// The agents that never failed and decided, decided the same value. With
/// crash or omission faults, a faulty agent that failed may disagree.
pub fn agreement(n: usize, ep: &Episode) -> bool {
    let followers = all(n) & ep.followers;
    let correct = followers & !ep.crashed & !ep.omitted;
    let decided = ep.decided & followers;
    let agreeing = ep.values & decided & correct;
    agreeing == 0 || agreeing == decided & correct
}

/// If all inputs equal `v`, no agent decided otherwise (every decision is bound).
pub fn validity(n: usize, ep: &Episode) -> bool {
    let followers = all(n) & ep.followers;
    let decided = ep.decided & followers;
    let ones = ep.values & decided;
    let inputs = ep.inputs & followers;
    if inputs == followers {
        ones == decided
    } else if inputs == 0 {
        ones == 0
    } else {
        true
    }
}

/// Every agent still running decided within the round cap.
pub fn termination(n: usize, ep: &Episode) -> bool {
    ep.undecided_of(n) == 0
}
