use super::{majority, reads_inputs, Protocol};
use crate::consensus::rules::Action;
use crate::consensus::spec::EnvSpec;
use crate::consensus::view::View;

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
