//! The verdicts on a finished episode: a mode's named properties folded
//! into the three verdicts every game reports. Scoring is the modes' job,
//! so the outcome lives with them, above the rules that play the episode.

use super::{agreement, Part, Property};
use crate::consensus::rules::Episode;
use crate::consensus::spec::{Comm, EnvSpec};
use serde::Serialize;

/// The verdicts on a finished episode: each of its mode's named properties
/// ([`Property`]) held or not, folded into the three verdicts
/// every game reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Every agreement property held (agreement; atomic commit's P1).
    pub agreement: bool,
    /// Every validity property held (validity; atomic commit's P3 and P4).
    pub validity: bool,
    /// Every termination property held (every agent still running decided
    /// within the round cap; atomic commit's P5).
    pub termination: bool,
    /// The mode whose properties these are.
    #[serde(skip)]
    pub comm: Comm,
    /// Bit `k`: the mode's `k`-th property failed.
    #[serde(skip)]
    pub failed: u16,
}

impl Outcome {
    /// The verdicts of `comm`'s properties, `holds(k, property)` each.
    pub fn of(comm: Comm, holds: impl FnMut(usize, &Property) -> bool) -> Outcome {
        Outcome::of_list(comm, comm.mode().properties(), holds)
    }

    /// [`Outcome::of`] with the property list at hand: a mode's own
    /// scoring passes its constant list, which the compiler can unroll.
    #[inline(always)]
    pub fn of_list(
        comm: Comm,
        properties: &'static [Property],
        mut holds: impl FnMut(usize, &Property) -> bool,
    ) -> Outcome {
        let mut o = Outcome {
            agreement: true,
            validity: true,
            termination: true,
            comm,
            failed: 0,
        };
        for (k, p) in properties.iter().enumerate() {
            if !holds(k, p) {
                o.failed |= 1 << k;
                match p.part {
                    Part::Agreement => o.agreement = false,
                    Part::Validity => o.validity = false,
                    Part::Termination => o.termination = false,
                }
            }
        }
        o
    }

    /// The reported win: the honest team wins iff every property holds.
    pub fn honest_wins(&self) -> bool {
        self.failed == 0
    }

    /// Names of the properties that failed, in the mode's order.
    pub fn violated(&self) -> Vec<&'static str> {
        let properties = self.comm.mode().properties().iter();
        properties
            .enumerate()
            .filter(|(k, _)| self.failed >> k & 1 == 1)
            .map(|(_, p)| p.name)
            .collect()
    }
}

/// Scores a finished episode on its mode's named properties.
pub fn outcome(spec: &EnvSpec, ep: &Episode) -> Outcome {
    super::score(spec, ep)
}

/// The agreement game's properties for any game of `n` agents that decide
/// a bit from a bit (the sampling game has no [`EnvSpec`]).
pub fn outcome_for(n: usize, ep: &Episode) -> Outcome {
    let verdicts = [
        agreement::agreement(n, ep),
        agreement::validity(n, ep),
        agreement::termination(n, ep),
    ];
    Outcome::of(Comm::Agreement, |k, _| verdicts[k])
}
