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

/// A rule the learned protocols add to Bracha's: what each costs the
/// search is measured by `envs/examples/rb_variants.rs`, and the search's
/// reductions are tested on protocols that have them
/// (`envs/tests/rb_reductions.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// ECHO v on f + 1 ECHO v.
    EchoOnEcho,
    /// ECHO v on f + 1 READY v.
    EchoOnReady,
    /// READY v on the INIT v read (hasty: totality falls).
    ReadyOnInit,
    /// Deliver on ceil((n + f + 1) / 2) READY v, not 2f + 1.
    DeliverOnQuorum,
}

impl Extra {
    pub const ALL: [Extra; 4] = [
        Extra::EchoOnEcho,
        Extra::EchoOnReady,
        Extra::ReadyOnInit,
        Extra::DeliverOnQuorum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Extra::EchoOnEcho => "echo_on_echo",
            Extra::EchoOnReady => "echo_on_ready",
            Extra::ReadyOnInit => "ready_on_init",
            Extra::DeliverOnQuorum => "deliver_on_quorum",
        }
    }
}

/// Bracha's rules ([`form`] with the amplification) with `extra` added.
pub fn with(extra: &[Extra]) -> ThresholdForm {
    let mut form = form(true);
    let has = |e: Extra| extra.contains(&e);
    let at = |m, t| Atom::AtLeast(m, t);
    let send = |m| Act::Send(m, Dest::All);
    if has(Extra::DeliverOnQuorum) {
        for r in form.rules.iter_mut() {
            if let (Act::Deliver(v), [Atom::AtLeast(..)]) = (r.then, r.when.as_slice()) {
                r.when = vec![at(Msg::ready(v), Threshold::MORE_THAN_HALF)];
            }
        }
    }
    for v in 0..2 {
        if has(Extra::EchoOnEcho) {
            let when = [at(Msg::echo(v), Threshold::T_PLUS_1)];
            form.rules.push(Rule::new(&when, send(Msg::echo(v))));
        }
        if has(Extra::EchoOnReady) {
            let when = [at(Msg::ready(v), Threshold::T_PLUS_1)];
            form.rules.push(Rule::new(&when, send(Msg::echo(v))));
        }
        if has(Extra::ReadyOnInit) {
            form.rules
                .push(Rule::new(&[Atom::Init(v)], send(Msg::ready(v))));
        }
    }
    form
}
