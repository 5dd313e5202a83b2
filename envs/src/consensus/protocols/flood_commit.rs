use super::{flooding_check, Protocol};
use crate::consensus::rules::Action;
use crate::consensus::spec::EnvSpec;
use crate::consensus::view::View;

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
        if !spec.comm().mode().decides_commit_or_abort() {
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
