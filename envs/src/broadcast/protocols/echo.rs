//! Echo broadcast (Reiter's, and Cachin, Guerraoui and Rodrigues'
//! "authenticated echo broadcast"): consistent broadcast, no READY phase.
//! It keeps agreement for n > 3f but not totality: a Byzantine sender can
//! let some correct agents deliver and starve the others.

use super::{echo_on_init, init_on_input, more_than_half, per_value, Scripted};
use crate::broadcast::game::{Decision, Kind, Msg};
use crate::broadcast::grammar::Dest;
use crate::broadcast::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

/// The sender sends INIT v; on the sender's INIT v, ECHO v (one ECHO);
/// on more than (n+f)/2 ECHO v, deliver v.
pub const ECHO: Scripted = Scripted {
    name: "echo",
    rule: |spec, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        if let (Some(v), false) = (view.init, view.has_sent_kind(Kind::Echo)) {
            d = d.send(Msg::echo(v));
        }
        for v in 0..2 {
            if view.count(Msg::echo(v)) >= more_than_half(spec.n + spec.f) {
                d = d.deliver(v);
                break;
            }
        }
        d
    },
};

/// Echo broadcast's rules as thresholds: the same decisions as [`ECHO`].
pub fn form() -> ThresholdForm {
    let mut rules = init_on_input(Dest::All);
    rules.extend(echo_on_init(Dest::All));
    rules.extend(per_value(|v| {
        vec![Rule::new(
            &[Atom::AtLeast(Msg::echo(v), Threshold::MORE_THAN_HALF)],
            Act::Deliver(v),
        )]
    }));
    ThresholdForm {
        rules,
        once: vec![Kind::Echo],
    }
}
