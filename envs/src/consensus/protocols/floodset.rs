use super::{flooding_check, Protocol};
use crate::consensus::rules::Action;
use crate::consensus::spec::EnvSpec;
use crate::consensus::view::View;

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
