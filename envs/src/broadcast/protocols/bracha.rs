//! Bracha's reliable broadcast (1987), as Cachin, Guerraoui and Rodrigues
//! write it ("authenticated double-echo broadcast"): correct for n > 3f.

use super::{echo_on_init, init_on_input, more_than_half, per_value, Scripted};
use crate::broadcast::game::{Decision, Kind, Msg, RbSpec, View};
use crate::broadcast::grammar::Dest;
use crate::broadcast::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

pub const BRACHA: Scripted = Scripted {
    name: "bracha",
    rule: |spec, view| double_echo(spec, view, true),
};

/// The same without "f+1 READY v: send READY v": the textbook's example of
/// why that rule is there (totality falls without it).
pub const NO_AMPLIFICATION: Scripted = Scripted {
    name: "bracha_no_amplification",
    rule: |spec, view| double_echo(spec, view, false),
};

/// The sender sends INIT v; on the sender's INIT v, ECHO v (one ECHO);
/// on more than (n+f)/2 ECHO v, or (with amplification) f+1 READY v,
/// READY v (one READY); on 2f+1 READY v, deliver v.
fn double_echo(spec: &RbSpec, view: &View, amplify: bool) -> Decision {
    let mut d = Decision::default();
    if let Some(v) = view.input {
        d = d.send(Msg::init(v));
    }
    if let (Some(v), false) = (view.init, view.has_sent_kind(Kind::Echo)) {
        d = d.send(Msg::echo(v));
    }
    for v in 0..2 {
        let echoes = view.count(Msg::echo(v)) >= more_than_half(spec.n + spec.f);
        let readies = amplify && view.count(Msg::ready(v)) > spec.f;
        if (echoes || readies) && !view.has_sent_kind(Kind::Ready) {
            d = d.send(Msg::ready(v));
            break;
        }
    }
    for v in 0..2 {
        if view.count(Msg::ready(v)) > 2 * spec.f {
            d = d.deliver(v);
            break;
        }
    }
    d
}

/// Bracha's rules as thresholds (with or without the amplification): the
/// same decisions as [`double_echo`] on every view (tested at n = 4 to 7).
pub fn form(amplify: bool) -> ThresholdForm {
    let mut rules = init_on_input(Dest::All);
    rules.extend(echo_on_init(Dest::All));
    rules.extend(per_value(|v| {
        let mut r = vec![Rule::new(
            &[Atom::AtLeast(Msg::echo(v), Threshold::MORE_THAN_HALF)],
            Act::Send(Msg::ready(v), Dest::All),
        )];
        if amplify {
            r.push(Rule::new(
                &[Atom::AtLeast(Msg::ready(v), Threshold::T_PLUS_1)],
                Act::Send(Msg::ready(v), Dest::All),
            ));
        }
        r
    }));
    rules.extend(per_value(|v| {
        vec![Rule::new(
            &[Atom::AtLeast(Msg::ready(v), Threshold::TWO_T_PLUS_1)],
            Act::Deliver(v),
        )]
    }));
    ThresholdForm {
        rules,
        once: vec![Kind::Echo, Kind::Ready],
    }
}
