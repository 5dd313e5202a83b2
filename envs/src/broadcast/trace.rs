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
//! views, since views hold counts of distinct senders. The reads the
//! search makes at once after each move (`explore::at_once`) are played
//! too, each on a line of its own that says it changed nothing.

use super::explore::{at_once, batch_before, canonical, describe, quiescent_once_retired, Options};
use super::game::{self, Instance, Msg, RbSpec, Reaction, Source, State, Step, PROPERTIES};
use super::protocols::RbProtocol;
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
    let (state, reactions) = game::start(spec, inst, p);
    let mut run = Run {
        spec,
        inst,
        p,
        state,
        flight: BTreeMap::new(),
        injected: BTreeSet::new(),
        lines: vec![],
        moves: 0,
    };
    for (a, r) in reactions.iter().enumerate() {
        run.post(a, r);
        if let Some(what) = did(r) {
            run.lines.push(format!("start: agent {a} {what}"));
        }
    }
    run.at_once(options);
    for step in path {
        let (_, frame) = canonical(spec, inst, p, options, run.state);
        let real = frame.step_back(step);
        for early in batch_before(spec, inst, p, options, &run.state, real) {
            run.play(early, " (waited for the next: changes nothing it acts on)");
        }
        run.play(real, "");
        run.at_once(options);
    }
    // The search retires agents that can never act again: what is owed to
    // them is delivered here, to no effect, so the run ends quiescent.
    if !game::quiescent(spec, inst, &run.state) && quiescent_once_retired(spec, inst, p, &run.state)
    {
        let owed: Vec<(usize, usize)> = run
            .flight
            .iter()
            .filter(|(&(to, _), senders)| {
                !inst.is_faulty(to) && senders.iter().any(|&a| !inst.is_faulty(a))
            })
            .map(|(&key, _)| key)
            .collect();
        for (to, i) in owed {
            while run.flight[&(to, i)].iter().any(|&a| !inst.is_faulty(a)) {
                let step = Step {
                    to: to as u8,
                    msg: Msg::from_index(i),
                    from: Source::Correct,
                };
                run.play(step, " (no effect)");
            }
        }
    }
    let quiet = game::quiescent(spec, inst, &run.state);
    run.lines.push(if quiet {
        "end: nothing owed is in flight, so a fair run may stop here".into()
    } else {
        "end: the property is already broken; no later move mends it".into()
    });
    run.lines
        .push(format!("delivered: {}", delivered(spec, inst, &run.state)));
    Trace {
        property: PROPERTIES[property].name,
        instance: describe(spec, inst),
        lines: run.lines,
    }
}

/// A run being replayed, with concrete senders.
struct Run<'a> {
    spec: &'a RbSpec,
    inst: &'a Instance,
    p: &'a dyn RbProtocol,
    state: State,
    /// Per (recipient, message): senders in flight, oldest first.
    flight: BTreeMap<(usize, usize), VecDeque<usize>>,
    /// (recipient, message, Byzantine agent) already sent.
    injected: BTreeSet<(usize, usize, usize)>,
    lines: Vec<String>,
    /// Moves played so far.
    moves: usize,
}

impl Run<'_> {
    /// Agent `a`'s sends in `r`, in flight to every other agent with a
    /// record.
    fn post(&mut self, a: usize, r: &Reaction) {
        let (spec, inst) = (self.spec, self.inst);
        for m in Msg::all().filter(|m| r.sent & m.bit() != 0) {
            for to in (0..spec.n).filter(|&to| to != a && !inst.is_byzantine(spec, to)) {
                self.flight.entry((to, m.index())).or_default().push_back(a);
            }
        }
    }

    /// Plays `real` (in real agent ids), naming its sender; `note` ends
    /// its line.
    fn play(&mut self, real: Step, note: &str) {
        let (spec, inst) = (self.spec, self.inst);
        let to = real.to as usize;
        let i = real.msg.index();
        let from = match real.from {
            Source::Byzantine => {
                let b = (0..spec.n)
                    .filter(|&b| inst.is_byzantine(spec, b))
                    .filter(|&b| real.msg.kind != game::Kind::Init || b == game::SENDER)
                    .find(|&b| !self.injected.contains(&(to, i, b)))
                    .expect("the search only injects what some Byzantine agent may send");
                self.injected.insert((to, i, b));
                format!("agent {b} (Byzantine)")
            }
            source => {
                let queue = self.flight.entry((to, i)).or_default();
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
        let r = game::apply(spec, inst, self.p, &mut self.state, real);
        self.post(to, &r);
        self.moves += 1;
        let mut line = format!(
            "{:>2}. {from} -> agent {to}: {}",
            self.moves,
            real.msg.name()
        );
        if let Some(what) = did(&r) {
            line.push_str(&format!("; agent {to} {what}"));
        }
        debug_assert!(
            note.is_empty() || did(&r).is_none(),
            "a read said to change nothing made agent {to} act"
        );
        line.push_str(note);
        self.lines.push(line);
    }

    /// The reads the search makes at once here, played on a copy to find
    /// them, then each played with its sender named.
    fn at_once(&mut self, options: &Options) {
        let mut ahead = self.state;
        let reads = at_once(self.spec, self.inst, self.p, options, &mut ahead);
        for read in reads {
            self.play(read, " (read at once: changes nothing it acts on)");
        }
        debug_assert_eq!(ahead, self.state);
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
