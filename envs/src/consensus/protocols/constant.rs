use super::Protocol;
use crate::consensus::rules::Action;
use crate::consensus::view::View;

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
