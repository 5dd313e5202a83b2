use super::{majority, reads_relays, Protocol};
use crate::consensus::rules::Action;
use crate::consensus::spec::EnvSpec;
use crate::consensus::view::View;

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
