//! Counterexamples a person can read: the search's shortest path, replayed
//! in the instance's own agent ids with a concrete sender for every message.
//!
//! The search keeps what is in flight as counts per kind of sender and
//! visits one state per symmetry class; the replay undoes both. It follows
//! each representative's move on the real state (through the permutation
//! that maps one to the other), and names the sender of a delivered
//! message: the earliest sender of that message still in flight to that
//! recipient, or for a Byzantine injection the lowest Byzantine id that has
//! not yet sent it there. Any choice is a run of the game with the same
//! views, since views hold counts of distinct senders.

use super::game::{self, Instance, Msg, RbSpec, Reaction, Source, State, Step, PROPERTIES};
use super::protocols::RbProtocol;
use super::search::{canonical, describe, quiescent_once_retired, Options};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A run that breaks `property`, one line per move.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub property: &'static str,
    pub instance: String,
    pub lines: Vec<String>,
}

impl Trace {
    pub fn render(&self) -> String {
        let mut out = format!(
            "counterexample ({}): {} broken\n",
            self.instance, self.property
        );
        for l in &self.lines {
            out.push_str("  ");
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// What a reaction did, in words ("sends ECHO 1, sends READY 0 to the
/// others, delivers 1"): a message sent both ways is sent "to all".
fn did(r: &Reaction) -> Option<String> {
    let mut parts: Vec<String> = vec![];
    for m in Msg::all() {
        let where_ = match (r.sent & m.bit() != 0, r.to_self & m.bit() != 0) {
            (true, true) => "",
            (true, false) => " to the others",
            (false, true) => " to itself",
            (false, false) => continue,
        };
        parts.push(format!("sends {}{where_}", m.name()));
    }
    parts.extend(
        (0..2)
            .filter(|v| r.delivered >> v & 1 == 1)
            .map(|v| format!("delivers {v}")),
    );
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Replays `path` (moves in representatives' labels, as the search with
/// `options` labels them) from the start of `inst`, ending in a state that
/// breaks `PROPERTIES[property]`.
pub fn replay(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    options: &Options,
    path: &[Step],
    property: usize,
) -> Trace {
    let mut lines = vec![];
    // Per (recipient, message): senders in flight, oldest first.
    let mut flight: BTreeMap<(usize, usize), VecDeque<usize>> = BTreeMap::new();
    // (recipient, message, Byzantine agent) already sent.
    let mut injected: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
    let post = |a: usize, r: &Reaction, flight: &mut BTreeMap<_, VecDeque<usize>>| {
        for m in Msg::all().filter(|m| r.sent & m.bit() != 0) {
            for to in (0..spec.n).filter(|&to| to != a && !inst.is_byzantine(spec, to)) {
                flight.entry((to, m.index())).or_default().push_back(a);
            }
        }
    };
    let (mut state, reactions) = game::start(spec, inst, p);
    for (a, r) in reactions.iter().enumerate() {
        post(a, r, &mut flight);
        if let Some(what) = did(r) {
            lines.push(format!("start: agent {a} {what}"));
        }
    }
    for (k, step) in path.iter().enumerate() {
        let (_, frame) = canonical(spec, inst, p, options, state);
        let real = frame.step_back(step);
        let to = real.to as usize;
        let i = real.msg.index();
        let from = match real.from {
            Source::Byzantine => {
                let b = (0..spec.n)
                    .filter(|&b| inst.is_byzantine(spec, b))
                    .filter(|&b| real.msg.kind != game::Kind::Init || b == game::SENDER)
                    .find(|&b| !injected.contains(&(to, i, b)))
                    .expect("the search only injects what some Byzantine agent may send");
                injected.insert((to, i, b));
                format!("agent {b} (Byzantine)")
            }
            source => {
                let queue = flight.entry((to, i)).or_default();
                let faulty = source == Source::Faulty;
                let at = queue
                    .iter()
                    .position(|&a| inst.is_faulty(a) == faulty)
                    .expect("the search only delivers what is in flight");
                let a = queue.remove(at).expect("found above");
                if faulty {
                    format!("agent {a} (crash-prone)")
                } else {
                    format!("agent {a}")
                }
            }
        };
        let r = game::apply(spec, inst, p, &mut state, real);
        post(to, &r, &mut flight);
        let mut line = format!("{:>2}. {from} -> agent {to}: {}", k + 1, real.msg.name());
        if let Some(what) = did(&r) {
            line.push_str(&format!("; agent {to} {what}"));
        }
        lines.push(line);
    }
    // The search retires agents that can never act again: what is owed to
    // them is delivered here, to no effect, so the run ends quiescent.
    if !game::quiescent(spec, inst, &state) && quiescent_once_retired(spec, inst, p, &state) {
        let owed: Vec<((usize, usize), usize)> = flight
            .iter()
            .flat_map(|(&key, senders)| senders.iter().map(move |&a| (key, a)))
            .filter(|&((to, _), a)| !inst.is_faulty(to) && !inst.is_faulty(a))
            .collect();
        for (k, ((to, i), a)) in owed.into_iter().enumerate() {
            let m = Msg::from_index(i);
            let r = game::apply(
                spec,
                inst,
                p,
                &mut state,
                Step {
                    to: to as u8,
                    msg: m,
                    from: Source::Correct,
                },
            );
            debug_assert!(did(&r).is_none(), "a retired agent never acts");
            let k = path.len() + k + 1;
            lines.push(format!(
                "{k:>2}. agent {a} -> agent {to}: {} (no effect)",
                m.name()
            ));
        }
    }
    let quiet = game::quiescent(spec, inst, &state);
    lines.push(if quiet {
        "end: nothing owed is in flight, so a fair run may stop here".into()
    } else {
        "end: the property is already broken; no later move mends it".into()
    });
    lines.push(format!("delivered: {}", delivered(spec, inst, &state)));
    Trace {
        property: PROPERTIES[property].name,
        instance: describe(spec, inst),
        lines,
    }
}

/// Each correct agent's delivery, "agent 1: 0, agent 2: nothing, agent
/// 3: 0 and 1" (both values only under the per-message semantics).
fn delivered(spec: &RbSpec, inst: &Instance, state: &State) -> String {
    inst.correct(spec)
        .map(|a| match state[a].delivered {
            0 => format!("agent {a}: nothing"),
            3 => format!("agent {a}: 0 and 1"),
            d => format!("agent {a}: {}", d.trailing_zeros()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
