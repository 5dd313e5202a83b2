//! Bracha's reliable broadcast (1987), as Cachin, Guerraoui and Rodrigues
//! write it ("authenticated double-echo broadcast"): correct for n > 3f.

use super::{more_than_half, Scripted};
use crate::broadcast::game::{Decision, Kind, Msg, RbSpec, View};

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
