//! Reading invisible copies at once.
//!
//! A copy of message `m` (ECHO or READY) from a correct agent, in flight
//! to agent `i`, will be read in every fair run (to a correct `i`), or
//! may be (to a crash-prone one). Say `i`'s record is `R`, with `c`
//! copies of `m` read, when the copy is put in flight. The read is
//! *invisible* when no view `i` may be asked about before it reads
//! another copy of `m` from someone else changes its decision by one more
//! copy of `m`: for every record `R''` reachable from `R` (by reads of
//! anything but another copy of `m`, and `i`'s own reactions, every step
//! of them, its own copy of `m` included) whose count of `m` is at most
//! `c + s` (`s` is 1 while `i` may still send `m` to itself, else 0),
//! `game::wanted` on `R''` and on `R''` with one more `m` agree. (Up to
//! commit 62d6a23 the records past another copy of `m` were asked about
//! too, up to that bound: no run below needs them, and an agent moved by
//! the (f + 1)-th copy made every copy below it visible.)
//!
//! Then reading it at once changes no run's decisions: take any run, and
//! in it the first read by `i` of a copy of `m` not its own after the
//! copy was put in flight (at `j1`; the end of the run if none). Read the
//! copy at once instead, and at `j1` read nothing: if `j1` read this very
//! copy, that is all; if it read another copy `Y` (correct, crash-prone or
//! Byzantine), then where the run later reads this copy, read `Y` (still
//! in flight, or for a Byzantine agent still unused: views count distinct
//! senders, not which). Before `j1`, `i`'s views differ by one copy of `m`
//! only, and every one of them is a record `R''` above: every decision,
//! hence every send and delivery, is the same at the same moment; after
//! `j1` the views are equal. Quiescent ends map to quiescent ends with the
//! same deliveries (a quiescent end has read every correct copy to a
//! correct agent; a crash-prone recipient is owed nothing), and a state
//! breaking a safety property (agreement, integrity: they never mend) is
//! followed, in a fair continuation that delivers what is owed, by a
//! quiescent one that still breaks it. So every violation has a run that
//! reads invisible copies at once, and such runs are runs of the game:
//! the search may follow only them. By induction over the first move
//! where a run reads later than at once, every run is so rewritten.
//!
//! Copies from crash-prone or Byzantine agents are never read at once:
//! the adversary may withhold them, and a run that never reads them has
//! one copy fewer of `m` for ever, which no rewriting above makes up.
//! INITs are always branched on.
//!
//! `wanted` is asked of records the search may never meet: the verdict is
//! over every reachable record, so it only errs towards branching.

use super::super::game::{self, Instance, Kind, Local, Msg, RbSpec, Reaction, Source, State, Step};
use super::super::mirror;
use super::super::protocols::RbProtocol;
use super::hash::Fx;
use super::retire::{is_retired, record_key};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The messages that may be read at once: ECHO 0, ECHO 1, READY 0, READY 1.
const COUNTED: [Msg; 4] = [Msg::echo(0), Msg::echo(1), Msg::ready(0), Msg::ready(1)];

/// The verdicts, per record and message, kept: the search asks about
/// the same records again and again.
pub struct Invisible<'a> {
    p: &'a dyn RbProtocol,
    /// When set, each verdict must match its mirror's.
    watch: Option<&'a mirror::Watch<'a>>,
    /// Per (record, message): whether some record reachable from it before
    /// another copy of the message is read sees one more.
    /// Looked up only, never iterated.
    visible: HashMap<u64, bool, BuildHasherDefault<Fx>>,
    /// Per record (what it knows and did, and whose it is): the counted
    /// messages one more copy of which is invisible, a bit each in
    /// [`COUNTED`] order, its mirror checked. Looked up only, never
    /// iterated.
    masks: HashMap<u32, u8, BuildHasherDefault<Fx>>,
    /// The masks asked last, one slot per key's hash, in front of `masks`:
    /// the search asks about the same few records again and again, and a
    /// slot stays in the processor's cache where `masks` (a record each)
    /// does not. It changes no answer, only how fast one is found.
    recent: Vec<(u32, u8)>,
}

/// Slots of [`Invisible::recent`], a power of two.
const RECENT: usize = 1 << 12;

impl<'a> Invisible<'a> {
    pub fn new(p: &'a dyn RbProtocol, watch: Option<&'a mirror::Watch<'a>>) -> Invisible<'a> {
        Invisible {
            p,
            watch,
            visible: HashMap::default(),
            masks: HashMap::default(),
            recent: vec![(u32::MAX, 0); RECENT],
        }
    }

    /// Reads at once, in every agent with a record that is not retired,
    /// every copy from a correct agent whose read is invisible, in agent
    /// then message order; the agents changed (a bit each), and with
    /// `log`, each read as a move of the game.
    ///
    /// `after`, when given, is the move just made on a state that had
    /// nothing to read at once: its recipient and the messages it sent.
    /// Then only the recipient's record changed, and another agent has
    /// something to read at once only among the copies just sent to it
    /// (its record, hence what it reads invisibly, is as before).
    pub fn close(
        &mut self,
        spec: &RbSpec,
        inst: &Instance,
        state: &mut State,
        after: Option<(u8, u8)>,
        mut log: Option<&mut Vec<Step>>,
    ) -> u8 {
        let mut changed = 0;
        for a in (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)) {
            let input = if a == game::SENDER { inst.input } else { None };
            // The counted messages that may be ready to read at once.
            let mut fresh = match after {
                Some((to, sent)) if to as usize != a => sent >> 2,
                _ => 0b1111,
            };
            loop {
                let me = state[a];
                let owed = (2..game::MSGS)
                    .fold(0u8, |o, i| o | ((me.from_correct[i] > 0) as u8) << (i - 2))
                    & fresh;
                if owed == 0 || is_retired(&me) {
                    break;
                }
                let ready = owed & self.mask(spec, &me, a, input);
                if ready == 0 {
                    break;
                }
                let m = COUNTED[ready.trailing_zeros() as usize];
                let me = &mut state[a];
                me.from_correct[m.index()] -= 1;
                me.read(spec.semantics, m);
                debug_assert_eq!(
                    game::wanted(spec, self.p, me, a, input),
                    Reaction::default(),
                    "an invisible read made agent {a} act"
                );
                changed |= 1 << a;
                // Its record changed: every copy owed to it is a candidate.
                fresh = 0b1111;
                if let Some(log) = log.as_deref_mut() {
                    log.push(Step {
                        to: a as u8,
                        msg: m,
                        from: Source::Correct,
                    });
                }
            }
        }
        changed
    }

    /// Whether one more copy of `m` (ECHO or READY) read by agent `a`
    /// with record `me` is invisible (see the module's note).
    pub fn invisible(
        &mut self,
        spec: &RbSpec,
        me: &Local,
        a: usize,
        input: Option<u8>,
        m: Msg,
    ) -> bool {
        self.mask(spec, me, a, input) >> (m.index() - 2) & 1 == 1
    }

    /// The counted messages one more copy of which agent `a` with record
    /// `me` reads invisibly, a bit each in [`COUNTED`] order.
    fn mask(&mut self, spec: &RbSpec, me: &Local, a: usize, input: Option<u8>) -> u8 {
        let key = record_key(me, a == game::SENDER, input);
        // No record key is u32::MAX (30 bits): an empty slot never matches.
        let slot = (key.wrapping_mul(0x9e37_79b1) >> 20) as usize % RECENT;
        if self.recent[slot].0 == key {
            return self.recent[slot].1;
        }
        if let Some(&mask) = self.masks.get(&key) {
            self.recent[slot] = (key, mask);
            return mask;
        }
        let mut mask = 0;
        for (k, m) in COUNTED.into_iter().enumerate() {
            if (me.count[k] as usize) < spec.n && self.checked(spec, me, a, input, m) {
                mask |= 1 << k;
            }
        }
        self.masks.insert(key, mask);
        self.recent[slot] = (key, mask);
        mask
    }

    /// Whether one more copy of `m` read by agent `a` with record `me` is
    /// invisible (see the module's note); with a watch, the mirrored
    /// record's verdict on the mirrored message must be the same, noted
    /// to the watch when not.
    fn checked(&mut self, spec: &RbSpec, me: &Local, a: usize, input: Option<u8>, m: Msg) -> bool {
        let sender = a == game::SENDER;
        let seen = !self.visible_from(spec, me, sender, input, m);
        if let Some(w) = self.watch {
            let other = mirror::record(me);
            let flipped = Msg::new(m.kind, 1 - m.value);
            let theirs = !self.visible_from(spec, &other, sender, input.map(|v| 1 - v), flipped);
            if theirs != seen {
                w.differs();
            }
        }
        seen
    }

    /// Whether some record reachable from `me` (itself included) before it
    /// reads another copy of `m` would act otherwise with one more. Its
    /// count of `m` grows there by its own copy only, so it stays within
    /// the module note's bound `c + s` without a check.
    fn visible_from(
        &mut self,
        spec: &RbSpec,
        me: &Local,
        sender: bool,
        input: Option<u8>,
        m: Msg,
    ) -> bool {
        let i = m.index() - 2;
        let key = (record_key(me, sender, input) as u64) << 8 | i as u64;
        if let Some(&v) = self.visible.get(&key) {
            return v;
        }
        let a = if sender { game::SENDER } else { 1 };
        let now = game::wanted(spec, self.p, me, a, input);
        let mut more = *me;
        more.count[i] += 1;
        let v = now != game::wanted(spec, self.p, &more, a, input)
            || successors(spec, me, now, m)
                .iter()
                .any(|next| self.visible_from(spec, next, sender, input, m));
        self.visible.insert(key, v);
        v
    }
}

/// The records one step from `me` (whose protocol asks for `now`): the
/// next step of its reaction if it acts, else each read it may still
/// make (an INIT it would read, one more of a count below `n`) other than
/// a copy of `m` from someone else: that read ends the window the
/// verdict on `m` is about (see the module's note), so the records past
/// it are not asked about. Its own copy of `m`, sent to itself, is part of
/// its reaction and is followed.
fn successors(spec: &RbSpec, me: &Local, now: Reaction, m: Msg) -> Vec<Local> {
    if now != Reaction::default() {
        let mut next = *me;
        next.delivered |= now.delivered;
        next.sent |= now.sent;
        for m in Msg::all().filter(|m| now.to_self & m.bit() != 0) {
            next.to_self |= m.bit();
            next.read(spec.semantics, m);
        }
        return vec![next];
    }
    Msg::all()
        .filter(|&r| spec.messages() & r.bit() != 0 && r != m)
        .filter_map(|r| {
            let mut next = *me;
            let fresh = match r.kind {
                Kind::Init => next.read(spec.semantics, r),
                _ => (me.count[r.index() - 2] as usize) < spec.n && next.read(spec.semantics, r),
            };
            fresh.then_some(next)
        })
        .collect()
}
