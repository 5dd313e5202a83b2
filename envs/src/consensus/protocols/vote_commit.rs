use super::{reads_inputs, Protocol};
use crate::consensus::rules::Action;
use crate::consensus::spec::{EnvSpec, Identity};
use crate::consensus::view::View;

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
        if spec.identity() == Identity::Anonymous {
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
