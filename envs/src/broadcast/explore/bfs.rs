//! The breadth-first loop over one instance's states.
//!
//! Sleep sets (Godefroid), used only without eager reads and without
//! correct copies first: a move is named by its recipient, message and
//! kind of sender. Two moves to different recipients commute and neither
//! enables nor disables the other: a move changes its recipient's record
//! and only adds to what is in flight to others, and whether a move to
//! `r` is possible, and what it does, depends on `r`'s record alone. So
//! when a state's moves are followed in order, the successor by move `t`
//! need not follow any earlier move (or any move its parent slept on) to
//! another recipient: that order is the other side of a commuting square
//! whose far corner the earlier branch reaches. Sleep sets prune moves,
//! never states: every reachable state is still visited, which the tests
//! check by counting states with and without them. (Reads made at once
//! change other agents' records, and a correct copy put in flight
//! disables a Byzantine one: neither holds then.)
//!
//! A state reached from several parents sleeps only on what every one of
//! them lets it sleep on (the intersection). The search is breadth first
//! and every path to a state has the same length (each move is one more
//! read, and a state's reads are counted in its views), so every parent
//! of a state is expanded before it; should one not be, the state is
//! expanded again with the moves it had slept on.
//!
//! Correct copies first (`Options::correct_first`): a Byzantine or
//! crash-prone copy of `m` read by `i` while a correct copy of `m` is in
//! flight to `i` is not followed. Reading the correct copy instead gives
//! `i` the same view; and wherever the run later reads the correct copy,
//! the other one is read instead (a Byzantine agent's copy stays unused,
//! a crash-prone one stays in flight, until then). Every view and every
//! decision is the same at every moment, and a quiescent end (every
//! correct copy read) stays one. So the runs followed still reach every
//! violation.

use super::super::game::{self, Instance, RbSpec, Source, State, Step, PROPERTIES};
use super::super::mirror;
use super::super::protocols::RbProtocol;
use super::canon::{label, recipient_mask, relabel, Classes, Frame, Fx, Layout, Packed, Words};
use super::limits::{bytes_per_state_keyed, Limits, TooBig};
use super::{describe, Found, Invisible, Options, Retired};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

/// One instance's search, its states kept in `W` words in the seen set.
pub struct Search<'a, const W: usize> {
    spec: &'a RbSpec,
    inst: &'a Instance,
    /// The protocol the rules ask (the watch, when there is one).
    p: &'a dyn RbProtocol,
    options: &'a Options,
    /// With a Byzantine sender and a watch, a state and its mirror are
    /// searched once.
    quotient: bool,
    watch: Option<&'a mirror::Watch<'a>>,
    classes: Classes,
    words: Layout<W>,
    retired: Retired<'a>,
    invisible: Invisible<'a>,
    /// The map is only looked up, never iterated: its order cannot leak.
    seen: HashMap<Words<W>, u32, BuildHasherDefault<Fx>>,
    /// Per state: its parent and the move that reached it; the moves it
    /// sleeps on (in its own labels); whether it has been expanded.
    parent: Vec<(u32, Option<Step>)>,
    sleep: Vec<u128>,
    expanded: Vec<bool>,
    queue: VecDeque<(Words<W>, u32)>,
    /// Per property, the first state found to break it.
    witness: Vec<Option<u32>>,
    broken: u8,
    /// The most states: `max_states`, or fewer when memory says so.
    cap: u64,
}

impl<'a, const W: usize> Search<'a, W> {
    /// Searches `inst`; with `watch`, the protocol is `watch`'s, and every
    /// answer it gives, agent retired and read made at once is checked
    /// against the mirrored view.
    pub fn run(
        spec: &'a RbSpec,
        inst: &'a Instance,
        p: &'a dyn RbProtocol,
        watch: Option<&'a mirror::Watch<'a>>,
        limits: &Limits,
        options: &'a Options,
    ) -> Result<Found, TooBig> {
        let inner = watch.map_or(p, |w| w.inner);
        let cap = limits
            .max_states
            .min(limits.max_bytes / bytes_per_state_keyed::<W>());
        let mut s = Search {
            spec,
            inst,
            p: watch.map_or(p, |w| w as &dyn RbProtocol),
            options,
            quotient: watch.is_some() && inst.input.is_none(),
            watch,
            classes: Classes::new(spec, inst),
            words: Words::<W>::layout(spec, inst),
            retired: Retired::new(inner, watch),
            invisible: Invisible::new(inner, watch),
            seen: HashMap::default(),
            parent: vec![(0, None)],
            sleep: vec![0],
            expanded: vec![false],
            queue: VecDeque::new(),
            witness: vec![None; PROPERTIES.len()],
            broken: 0,
            cap,
        };
        let (mut first, _) = game::start(spec, inst, s.p);
        s.settle(&mut first, None);
        s.note(&first, 0);
        let (key, _) = s.canon(&first);
        let packed = s.words.of(&key);
        s.seen.insert(packed, 0);
        s.queue.push_back((packed, 0));
        let mut moves = vec![];
        let mut successors = vec![];
        while let Some((packed, id)) = s.queue.pop_front() {
            if s.stop() {
                break;
            }
            s.successors(&packed, id, &mut moves, &mut successors);
            for &(step, packed, inherited, ref next) in &successors {
                s.insert(id, step, packed, inherited, next, limits)?;
            }
        }
        Ok(s.found())
    }

    /// Whether to stop: every property broken, or the first with
    /// `first_violation`, or the mirror found unlike in a quotient search
    /// (which is then run again without it).
    fn stop(&self) -> bool {
        let all = (1u8 << PROPERTIES.len()) - 1;
        self.broken == all
            || (self.options.first_violation && self.broken != 0)
            || (self.quotient && self.watch.is_some_and(|w| !w.alike()))
    }

    /// After a move to `to` in which it sent `sent` (or at the start): the
    /// reads made at once, then the agents that can never act again
    /// retired. Only the recipient's record changed, and the others only
    /// got the copies it sent (see `Invisible::close`).
    fn settle(&mut self, state: &mut State, to: Option<(u8, u8)>) {
        let mut changed = to.map_or(0, |(t, _)| 1u8 << t);
        if self.options.eager {
            changed |= self.invisible.close(self.spec, self.inst, state, to, None);
        }
        if self.options.retire {
            let only = to.map(|_| changed);
            self.retired.retire(self.spec, self.inst, state, only);
        }
    }

    fn canon(&self, state: &State) -> (Packed, Frame) {
        let o = self.options;
        self.classes
            .represent(self.spec, state, o.symmetry, self.quotient)
    }

    /// Notes the properties `state` (state `id`) breaks first. The
    /// properties name no agent: a state and its representative break the
    /// same ones.
    fn note(&mut self, state: &State, id: u32) {
        let b = game::broken(self.spec, self.inst, state) & !self.broken;
        for (i, w) in self.witness.iter_mut().enumerate() {
            if b >> i & 1 == 1 {
                *w = Some(id);
            }
        }
        self.broken |= b;
    }

    /// Every successor of state `id` (packed as `packed`) not slept on,
    /// into `out`: the move, its packed representative, what it may sleep
    /// on (in its own labels) and the state. All are built before any is
    /// looked up: the lookups, each a cache miss in a set far larger than
    /// the cache, then run back to back and the processor overlaps them.
    #[allow(clippy::type_complexity)]
    fn successors(
        &mut self,
        packed: &Words<W>,
        id: u32,
        moves: &mut Vec<Step>,
        out: &mut Vec<(Step, Words<W>, u128, State)>,
    ) {
        let state = self.words.unpack(self.spec, packed);
        let sleeping = self.options.sleeping();
        let asleep = if sleeping { self.sleep[id as usize] } else { 0 };
        self.expanded[id as usize] = true;
        // The moves followed from here so far, in this state's labels.
        let mut followed = 0u128;
        game::steps_into(self.spec, self.inst, &state, moves);
        out.clear();
        for &step in moves.iter() {
            let label = label(&step);
            if asleep & label != 0 {
                continue;
            }
            let to = &state[step.to as usize];
            let owed = to.from_correct[step.msg.index()] > 0;
            if self.options.correct_first && owed && step.from != Source::Correct {
                continue;
            }
            let mut next = state;
            if self.options.lazy && !self.batch(&mut next, step) {
                continue;
            }
            let r = game::apply(self.spec, self.inst, self.p, &mut next, step);
            self.settle(&mut next, Some((step.to, r.sent)));
            let (key, frame) = self.canon(&next);
            let inherited = if sleeping {
                relabel((asleep | followed) & !recipient_mask(step.to), &frame)
            } else {
                0
            };
            followed |= label;
            out.push((step, self.words.of(&key), inherited, next));
        }
    }

    /// With lazy Byzantine copies, a Byzantine ECHO or READY `step` is
    /// followed only as the last of a batch of copies of its message to its
    /// recipient from distinct Byzantine agents, each but the last one
    /// that may wait: those are injected into `state` here (they change no
    /// decision), and whether the last one is to follow (it may not wait,
    /// and some Byzantine agent has it left to send).
    fn batch(&mut self, state: &mut game::State, step: Step) -> bool {
        if step.from != Source::Byzantine || step.msg.kind == game::Kind::Init {
            return true;
        }
        let a = step.to as usize;
        let input = if a == game::SENDER {
            self.inst.input
        } else {
            None
        };
        let i = step.msg.index();
        loop {
            let me = state[a];
            if (me.byzantine_used[i] as usize) >= self.spec.f {
                return false;
            }
            if !self.invisible.invisible(self.spec, &me, a, input, step.msg) {
                return true;
            }
            let r = game::apply(self.spec, self.inst, self.p, state, step);
            debug_assert_eq!(r, game::Reaction::default(), "a copy that may wait acted");
        }
    }

    /// A successor of state `id`: merged with a state seen (narrowing what
    /// it sleeps on, and expanding it again if that wakes a move), or a new
    /// state, queued.
    fn insert(
        &mut self,
        id: u32,
        step: Step,
        packed: Words<W>,
        inherited: u128,
        next: &State,
        limits: &Limits,
    ) -> Result<(), TooBig> {
        let child = self.parent.len() as u32;
        match self.seen.entry(packed) {
            Entry::Occupied(e) => {
                let old = *e.get() as usize;
                let narrower = self.sleep[old] & inherited;
                if narrower != self.sleep[old] {
                    self.sleep[old] = narrower;
                    if self.expanded[old] {
                        self.queue.push_back((packed, old as u32));
                    }
                }
                return Ok(());
            }
            Entry::Vacant(e) => {
                e.insert(child);
            }
        }
        if self.parent.len() as u64 >= self.cap {
            return Err(TooBig {
                limit: self.cap,
                instance: describe(self.spec, self.inst),
                memory: (self.cap < limits.max_states)
                    .then_some((limits.max_bytes, bytes_per_state_keyed::<W>())),
            });
        }
        self.parent.push((id, Some(step)));
        self.sleep.push(inherited);
        self.expanded.push(false);
        self.note(next, child);
        self.queue.push_back((packed, child));
        Ok(())
    }

    /// What the search found: the properties broken, the states, and a
    /// shortest path to each property's first witness.
    fn found(self) -> Found {
        let parent = &self.parent;
        let path = |mut id: u32| {
            let mut steps = vec![];
            while let (up, Some(step)) = parent[id as usize] {
                steps.push(step);
                id = up;
            }
            steps.reverse();
            steps
        };
        Found {
            broken: self.broken,
            states: parent.len() as u64,
            paths: self.witness.iter().map(|w| w.map(path)).collect(),
        }
    }
}
