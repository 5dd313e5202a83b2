//! RB-Learner's published Byzantine algorithms (Vaz, Matos, Pardal and
//! Correia), in our words: their type0 is our INIT and their type1 our
//! ECHO. Their guards are "type1 from at least tau distinct processes";
//! (N+F)/2 is rounded up here (at n = 4, f = 1: 3 ECHOs).

use super::{init_on_input, per_value, Scripted};
use crate::broadcast::game::{Decision, Msg, RbSpec, View};
use crate::broadcast::grammar::Dest;
use crate::broadcast::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

/// Algorithm 3: type0 to all; on one type0, type1 to all; on f+1 type1,
/// type1 to all; deliver on ceil((n+f)/2) type1. "To all" includes the
/// agent itself, so counts include its own message.
pub const ALG3: Scripted = Scripted {
    name: "rbl_alg3",
    rule: |spec, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        if let Some(v) = view.init {
            d = d.send(Msg::echo(v));
        }
        for v in 0..2 {
            if view.count(Msg::echo(v)) > spec.f {
                d = d.send(Msg::echo(v));
            }
        }
        for v in 0..2 {
            if view.count(Msg::echo(v)) >= (spec.n + spec.f).div_ceil(2) {
                d = d.deliver(v);
                break;
            }
        }
        d
    },
};

/// Algorithm 4 (their "new" one): algorithm 3 sent to the neighbours only
/// (their SendNeighbors), delivering on f+1 type1. Nothing is sent to
/// itself, so every count is the others' and the sender, which never reads
/// its own type0, sends type1 only on f+1 type1.
pub const ALG4: Scripted = Scripted {
    name: "rbl_alg4",
    rule: alg4,
};

fn alg4(spec: &RbSpec, view: &View) -> Decision {
    let mut d = Decision::default();
    if let Some(v) = view.input {
        d = d.send_neighbours(Msg::init(v));
    }
    if let Some(v) = view.init {
        d = d.send_neighbours(Msg::echo(v));
    }
    for v in 0..2 {
        if view.count(Msg::echo(v)) > spec.f {
            d = d.send_neighbours(Msg::echo(v));
        }
    }
    for v in 0..2 {
        if view.count(Msg::echo(v)) > spec.f {
            d = d.deliver(v);
            break;
        }
    }
    d
}

/// Algorithm 3 (`dest` All, deliver on ceil((n+t)/2)) and 4 (`dest`
/// Neighbours, deliver on t+1) as thresholds: the same decisions as
/// [`ALG3`] and [`ALG4`].
pub fn form(dest: Dest, deliver: Threshold) -> ThresholdForm {
    let mut rules = init_on_input(dest);
    rules.extend(per_value(|v| {
        vec![
            Rule::new(&[Atom::Init(v)], Act::Send(Msg::echo(v), dest)),
            Rule::new(
                &[Atom::AtLeast(Msg::echo(v), Threshold::T_PLUS_1)],
                Act::Send(Msg::echo(v), dest),
            ),
        ]
    }));
    rules.extend(per_value(|v| {
        vec![Rule::new(
            &[Atom::AtLeast(Msg::echo(v), deliver)],
            Act::Deliver(v),
        )]
    }));
    ThresholdForm {
        rules,
        once: vec![],
    }
}
