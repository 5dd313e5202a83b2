//! RB-Learner's crash-fault algorithms (and the textbook's best-effort and
//! eager reliable broadcast): deliver on receipt, or relay then deliver.

use super::{init_on_input, per_value, Scripted};
use crate::broadcast::game::{Decision, Msg};
use crate::broadcast::grammar::Dest;
use crate::broadcast::threshold::{Act, Atom, Rule, ThresholdForm};

/// The sender sends INIT v; on the sender's INIT v, deliver v. A sender
/// that crashes mid-broadcast leaves some correct agents without it.
pub const DELIVER_ON_RECEIPT: Scripted = Scripted {
    name: "deliver_on_receipt",
    rule: |_, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        if let Some(v) = view.init {
            d = d.deliver(v);
        }
        d
    },
};

/// The sender sends INIT v; on the sender's INIT v or another agent's
/// relay of v (an ECHO v), relay v to all (as ECHO v) and deliver v: a
/// correct agent delivers only what it has handed to every other.
pub const RELAY_THEN_DELIVER: Scripted = Scripted {
    name: "relay_then_deliver",
    rule: |_, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        let heard = (0..2).find(|&v| view.from_others(Msg::echo(v)) > 0);
        if let Some(v) = view.delivered.or(view.init).or(heard) {
            d = d.send(Msg::echo(v)).deliver(v);
        }
        d
    },
};

/// Deliver-on-receipt's rules as thresholds: the same decisions as
/// [`DELIVER_ON_RECEIPT`]. (Relay-then-deliver reads its own delivery, which
/// is not a threshold guard, and has no threshold form.)
pub fn form() -> ThresholdForm {
    let mut rules = init_on_input(Dest::All);
    rules.extend(per_value(|v| {
        vec![Rule::new(&[Atom::Init(v)], Act::Deliver(v))]
    }));
    ThresholdForm {
        rules,
        once: vec![],
    }
}
