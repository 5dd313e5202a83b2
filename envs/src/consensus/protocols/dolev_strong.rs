use super::Protocol;
use crate::consensus::rules::Action;
use crate::consensus::spec::{EnvSpec, NONE};
use crate::consensus::view::View;

/// Dolev-Strong broadcast, for any `f < n` with `pki`: every round but the
/// last `send` (the designated sender signs its input in round 1; from then
/// on every agent forwards each value it first received the round before,
/// adding its signature: see [`crate::consensus::rules::deliver_honest`]); in the last
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
