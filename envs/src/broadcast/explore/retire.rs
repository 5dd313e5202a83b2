//! Retiring agents that can never act again.

use super::super::game::{self, Instance, Kind, Local, Msg, RbSpec, Reaction, State};
use super::super::mirror;
use super::super::protocols::RbProtocol;
use super::canon::Fx;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Agents that will never act again, found from the protocol alone and
/// then retired: nothing is in flight to them and nothing more may reach
/// them.
///
/// An agent is *quiet* when the rules give it nothing to do (no new send,
/// no delivery: `game::wanted`) in its record or in any record its reads
/// alone could lead to: any INIT it may still read, any count up to `n`.
/// A quiet agent never reacts again, so what it reads changes its own
/// record only: no other agent's record and no property (its deliveries
/// are final) depends on it. Its record is replaced by a retired one:
/// every count set to 7 and both INITs read, to mark it (no record of
/// the game is so below n = 7, none under the single semantics, and at
/// n = 7 per message one that is has nothing left to read, nothing in
/// flight to it and every Byzantine copy used: it is its own retired
/// form), every Byzantine copy used (so no move reaches it),
/// nothing in flight, what it sent and delivered kept. A run of the
/// retired game is a run of the game in which the retired agent reads
/// everything owed to it at once, which the scheduler may always do, and
/// conversely the reads it skips could never change an answer; so a state
/// is quiescent, and breaks a property, in one exactly when it does in the
/// other.
pub struct Retired<'a> {
    p: &'a dyn RbProtocol,
    /// When set, each agent's quiet verdict must match its mirror's.
    watch: Option<&'a mirror::Watch<'a>>,
    /// Per packed record (what it knows and did, and whose it is): quiet
    /// or not. Looked up only, never iterated.
    quiet: HashMap<u32, bool, BuildHasherDefault<Fx>>,
    /// Per packed record, with a watch: quiet or not, and whether its
    /// mirror's verdict is the same. Looked up only, never iterated.
    checked: HashMap<u32, (bool, bool), BuildHasherDefault<Fx>>,
}

/// The mark of a retired record, in every count (so a mirror keeps it).
pub const RETIRED: u8 = 7;

/// Whether a record is a retired one (see [`Retired`]).
pub fn is_retired(me: &Local) -> bool {
    me.count == [RETIRED; 4] && me.init == 3
}

impl<'a> Retired<'a> {
    pub fn new(p: &'a dyn RbProtocol, watch: Option<&'a mirror::Watch<'a>>) -> Retired<'a> {
        Retired {
            p,
            watch,
            quiet: HashMap::default(),
            checked: HashMap::default(),
        }
    }

    /// Retires every agent that is quiet, or with `changed`, those agents
    /// only (a bit each) if quiet: a move changes its recipient's record
    /// (and those of agents reading at once) alone, the others only get
    /// messages in flight, and quiet depends on the record alone.
    pub fn retire(
        &mut self,
        spec: &RbSpec,
        inst: &Instance,
        state: &mut State,
        changed: Option<u8>,
    ) {
        for a in (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)) {
            let me = &mut state[a];
            if is_retired(me) {
                // What others sent it since: read at once, to no effect.
                me.from_correct = [0; game::MSGS];
                me.from_faulty = [0; game::MSGS];
                continue;
            }
            if changed.is_some_and(|c| c >> a & 1 == 0) {
                continue;
            }
            let input = if a == game::SENDER { inst.input } else { None };
            let quiet = self.verdict(spec, me, a, input);
            if quiet {
                me.init = 3;
                me.count = [RETIRED; 4];
                me.from_correct = [0; game::MSGS];
                me.from_faulty = [0; game::MSGS];
                me.byzantine_used = [spec.f as u8; game::MSGS];
            }
        }
    }

    /// Whether agent `a` with `me`'s knowledge is quiet; with a watch, also
    /// whether its mirror's verdict is the same, noted to the watch when
    /// not. Both answers are kept per record: the search asks about the
    /// same few records again and again, and the mirror's answer depends
    /// on the record alone, so asking once is asking every time.
    fn verdict(&mut self, spec: &RbSpec, me: &Local, a: usize, input: Option<u8>) -> bool {
        let Some(w) = self.watch else {
            return self.is_quiet(spec, me, a, input);
        };
        let key = record_key(me, a == game::SENDER, input);
        let (quiet, alike) = match self.checked.get(&key) {
            Some(&known) => known,
            None => {
                let quiet = self.is_quiet(spec, me, a, input);
                let other = mirror::record(me);
                let alike = self.is_quiet(spec, &other, a, input.map(|v| 1 - v)) == quiet;
                self.checked.insert(key, (quiet, alike));
                (quiet, alike)
            }
        };
        if !alike {
            w.differs();
        }
        quiet
    }

    /// Whether agent `a` (only whether it is the sender matters) with
    /// `me`'s knowledge will never act again, whatever it reads.
    fn is_quiet(&mut self, spec: &RbSpec, me: &Local, a: usize, input: Option<u8>) -> bool {
        let key = record_key(me, a == game::SENDER, input);
        if let Some(&q) = self.quiet.get(&key) {
            return q;
        }
        let acts = game::wanted(spec, self.p, me, a, input) != Reaction::default();
        let q = !acts
            && Msg::all().all(|m| {
                let mut next = *me;
                let more = match m.kind {
                    Kind::Init => next.read(spec.semantics, m),
                    _ => {
                        (me.count[m.index() - 2] as usize) < spec.n && next.read(spec.semantics, m)
                    }
                };
                !more || self.is_quiet(spec, &next, a, input)
            });
        self.quiet.insert(key, q);
        q
    }
}

/// What a record knows and did, and whose it is, in 30 bits.
pub fn record_key(me: &Local, sender: bool, input: Option<u8>) -> u32 {
    let who = match (sender, input) {
        (false, _) => 0,
        (true, None) => 1,
        (true, Some(v)) => 2 + v as u32,
    };
    let mut k = who << 2 | me.init as u32;
    for c in me.count {
        k = k << 3 | c as u32;
    }
    ((k << 6 | me.sent as u32) << 6 | me.to_self as u32) << 2 | me.delivered as u32
}
