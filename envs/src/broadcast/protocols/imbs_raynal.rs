//! Imbs and Raynal's two-step reliable broadcast (2016): INIT, then
//! WITNESS, which is our ECHO. Built for n > 5f; below that it may fall.

use super::{init_on_input, per_value, Scripted};
use crate::broadcast::game::{Decision, Msg};
use crate::broadcast::grammar::Dest;
use crate::broadcast::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

/// The sender sends INIT v; on the sender's INIT v, or on n - 2f WITNESS
/// v, WITNESS v (once per value: an agent may witness both); on n - f
/// WITNESS v, deliver v.
pub const IMBS_RAYNAL: Scripted = Scripted {
    name: "imbs_raynal",
    rule: |spec, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        if let Some(v) = view.init {
            d = d.send(Msg::echo(v));
        }
        let (n, f) = (spec.n, spec.f);
        for v in 0..2 {
            if view.count(Msg::echo(v)) + 2 * f >= n {
                d = d.send(Msg::echo(v));
            }
        }
        for v in 0..2 {
            if view.count(Msg::echo(v)) + f >= n {
                d = d.deliver(v);
                break;
            }
        }
        d
    },
};

/// Imbs and Raynal's rules as thresholds: the same decisions as
/// [`IMBS_RAYNAL`].
pub fn form() -> ThresholdForm {
    let mut rules = init_on_input(Dest::All);
    rules.extend(per_value(|v| {
        vec![
            Rule::new(&[Atom::Init(v)], Act::Send(Msg::echo(v), Dest::All)),
            Rule::new(
                &[Atom::AtLeast(Msg::echo(v), Threshold::N_MINUS_2T)],
                Act::Send(Msg::echo(v), Dest::All),
            ),
        ]
    }));
    rules.extend(per_value(|v| {
        vec![Rule::new(
            &[Atom::AtLeast(Msg::echo(v), Threshold::N_MINUS_T)],
            Act::Deliver(v),
        )]
    }));
    ThresholdForm {
        rules,
        once: vec![],
    }
}
