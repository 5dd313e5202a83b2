//! Swapping the values 0 and 1: a protocol that treats them alike lets the
//! verifier answer an honest sender's input 1 from its search of input 0.
//!
//! The game's rules, the adversary's moves and the named properties all
//! treat the two values alike, so the states reachable with input 1 are
//! the mirrors of those reachable with input 0, provided the protocol
//! answers every mirrored view with the mirrored decision. That is checked,
//! not assumed: [`Watch`] asks the protocol about the mirror of every view
//! the search of input 0 asks about, and the shortcut is taken only when
//! every answer matched (the views of the input-1 search are exactly those
//! mirrors, by induction over its moves).

use super::game::{Decision, Local, State, View, MAX_N};
use super::protocols::RbProtocol;
use super::RbSpec;
use std::sync::atomic::{AtomicBool, Ordering};

/// The other value.
fn flip(v: u8) -> u8 {
    1 - v
}

/// A message set (bit `2 * kind + value`) with the values swapped.
fn flip_set(set: u8) -> u8 {
    (set & 0b01_0101) << 1 | (set & 0b10_1010) >> 1
}

/// The view an agent would have with every value swapped.
pub fn view(v: &View) -> View {
    View {
        input: v.input.map(flip),
        init: v.init.map(flip),
        count: [v.count[1], v.count[0], v.count[3], v.count[2]],
        sent: flip_set(v.sent),
        to_self: flip_set(v.to_self),
        delivered: v.delivered.map(flip),
    }
}

/// A set of values (bit `v` for value `v`) with the values swapped.
fn flip_code(c: u8) -> u8 {
    match c {
        1 => 2,
        2 => 1,
        c => c,
    }
}

/// Per-message counts (index `2 * kind + value`) with the values swapped.
fn flip_counts<const K: usize>(c: [u8; K]) -> [u8; K] {
    std::array::from_fn(|i| c[i ^ 1])
}

/// An agent's record with every value swapped: its view's mirror, and the
/// mirror of what is in flight to it.
pub fn record(l: &Local) -> Local {
    // A retired record's mark (every count 7) is its own mirror.
    Local {
        init: flip_code(l.init),
        count: flip_counts(l.count),
        sent: flip_set(l.sent),
        to_self: flip_set(l.to_self),
        delivered: flip_code(l.delivered),
        from_correct: flip_counts(l.from_correct),
        from_faulty: flip_counts(l.from_faulty),
        byzantine_used: flip_counts(l.byzantine_used),
    }
}

/// A state with every value swapped.
pub fn state(s: &State) -> State {
    let mut out = *s;
    for (o, l) in out.iter_mut().zip(s).take(MAX_N) {
        *o = record(l);
    }
    out
}

/// A decision with every value swapped.
pub fn decision(d: &Decision) -> Decision {
    Decision {
        sends: flip_set(d.sends),
        neighbours: flip_set(d.neighbours),
        myself: flip_set(d.myself),
        deliver: d.deliver.map(flip),
    }
}

/// A protocol that also checks, on every view it is asked about, that the
/// wrapped one answers the mirrored view with the mirrored decision.
pub struct Watch<'a> {
    pub inner: &'a dyn RbProtocol,
    alike: AtomicBool,
}

impl<'a> Watch<'a> {
    pub fn new(inner: &'a dyn RbProtocol) -> Watch<'a> {
        Watch {
            inner,
            alike: AtomicBool::new(true),
        }
    }

    /// Notes that something answered a view and its mirror unlike.
    pub fn differs(&self) {
        self.alike.store(false, Ordering::Relaxed);
    }

    /// Whether every view asked about so far had a mirrored answer.
    pub fn alike(&self) -> bool {
        self.alike.load(Ordering::Relaxed)
    }
}

impl RbProtocol for Watch<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn act(&self, spec: &RbSpec, v: &View) -> Decision {
        let d = self.inner.act(spec, v);
        if self.alike() && self.inner.act(spec, &view(v)) != decision(&d) {
            self.differs();
        }
        d
    }
}
