//! The exact search: every message ordering and every Byzantine injection,
//! per instance, breadth first, so each counterexample is a shortest one.
//!
//! Why it is complete and finite:
//! - Every reachable state is expanded with every move of
//!   [`game::steps`]: every message in flight may arrive next, and every
//!   Byzantine agent may send every message to every honest agent, once.
//!   Once is enough: an honest agent counts *distinct* senders and reads
//!   only the first INIT, so a repeat from the same Byzantine agent changes
//!   no view and no later move.
//! - Seen states are merged: what can happen next depends on the state
//!   alone (the rules are pure), so a state reached twice has one future.
//! - Safety properties (agreement, integrity) are checked in every state,
//!   eventual ones (validity, totality) in every quiescent state, which is
//!   exactly where a fair run may stop. Each agent sends each message at
//!   most once, so the space is finite and the search ends.
//!
//! Symmetry: the non-sender agents of one kind (correct, or crash-prone)
//! are interchangeable (the same protocol, views without ids, an adversary
//! that may do to one whatever it may do to another, properties that name
//! no agent), and a state keeps what is in flight to each agent in that
//! agent's own record. So sorting those records maps a state to a
//! representative of its class, and the search visits one per class. The
//! tests check it against a search without it and against an independent
//! brute force over concrete messages (`envs/tests/reliable_broadcast.rs`).
//!
//! Three more reductions, each exact and each argued where it is built:
//! - sleep sets over moves to different recipients, which commute (they
//!   prune moves, never states: [`search_with`]);
//! - swapping the values 0 and 1, when the protocol is checked to treat
//!   them alike on every view the search asks about (`mirror`);
//! - retiring agents that can never act again ([`Retired`]): their reads
//!   change nothing, so they read everything owed to them at once.
//!
//! `envs/tests/rb_reductions.rs` checks that every combination gives every
//! instance the same answer.
//!
//! Not done: a persistent-set reduction. Moves to one recipient are not a
//! persistent set, since another agent's send can give that recipient a
//! new message to read, and read first; the retiring above takes the part
//! of that saving that is sound without looking ahead.

use super::game::{
    self, Instance, Kind, Local, Msg, RbSpec, Reaction, Semantics, Source, State, Step, MAX_N,
    PROPERTIES,
};
use super::mirror;
use super::protocols::RbProtocol;
use super::trace::{self, Trace};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// How far the search may go before it gives up, with an error.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most distinct states per instance (see [`bytes_per_state`] for
    /// what each costs).
    pub max_states: u64,
    /// The most memory one instance's search may hold, by the estimate of
    /// [`bytes_per_state`]: a search reaching it stops with an error that
    /// says so, whatever `max_states` allows.
    pub max_bytes: u64,
}

/// The default [`Limits::max_bytes`]: 6 GB of tables by an estimate that
/// errs high (a search at 20,000,000 states estimated at 5.5 GB measured
/// 3.8 GB resident), so that a whole `selfplay verify` stays under 8 GB.
pub const MAX_BYTES: u64 = 6_000_000_000;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // 20,000,000 states fit [`MAX_BYTES`] at every n (5.5 GB by the
            // estimate at n = 6, the largest).
            max_states: 20_000_000,
            max_bytes: MAX_BYTES,
        }
    }
}

impl Limits {
    /// Whether a search of `spec` within `max_states` fits `max_bytes` by
    /// the estimate; if not, what it may need and the most states that fit.
    pub fn check(&self, spec: &RbSpec) -> Result<(), String> {
        let per = bytes_per_state(spec);
        // In floating point: u64::MAX states times the bytes overflow u64.
        let need = self.max_states as f64 * per as f64;
        if need <= self.max_bytes as f64 {
            return Ok(());
        }
        Err(format!(
            "a search of {} states may need about {} of memory ({per} bytes a state at n = {}), \
             more than the {} it may use: at most {} states",
            self.max_states,
            gigabytes(need),
            spec.n,
            gigabytes(self.max_bytes as f64),
            self.max_bytes / per
        ))
    }
}

/// `bytes` in GB, for messages.
fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// The memory a search keeps per distinct state, an estimate that errs
/// high, for the largest seen-set key among `spec`'s instances: see
/// [`bytes_per_state_keyed`].
pub fn bytes_per_state(spec: &RbSpec) -> u64 {
    let most = game::instances(spec)
        .iter()
        .map(|inst| records(spec, inst))
        .max()
        .unwrap_or(spec.n);
    match words(most) {
        3 => bytes_per_state_keyed::<3>(),
        4 => bytes_per_state_keyed::<4>(),
        _ => bytes_per_state_keyed::<MAX_N>(),
    }
}

/// The memory per distinct state of a search keyed in `W` words:
/// - the seen set's slot (key and id) and control byte, 24/7 times over: a
///   hash table is at most 7/8 full, and while it doubles the old table
///   and the new one, twice its size, are both held;
/// - the parent, sleep set and expanded flag, one each;
/// - a place in the queue (its length stays below the states in practice).
///
/// Measured (peak resident set) at n = 6, f = 1, echo, the sender
/// Byzantine (6-word keys): 3.77 GB at 20,000,000 states, 189 bytes a
/// state, against this estimate's 276.
pub fn bytes_per_state_keyed<const W: usize>() -> u64 {
    use std::mem::size_of;
    let slot = size_of::<(Words<W>, u32)>() as u64;
    let seen = (slot + 1) * 24 / 7;
    let per_state =
        (size_of::<(u32, Option<Step>)>() + size_of::<u128>() + size_of::<bool>()) as u64;
    seen + per_state + slot
}

/// Why a search did not give an answer.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig {
    /// The states it reached.
    pub limit: u64,
    pub instance: String,
    /// When it stopped on [`Limits::max_bytes`] (before `max_states`): the
    /// bytes it may use and the estimate per state.
    pub memory: Option<(u64, u64)>,
}

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.memory {
            None => write!(
                f,
                "the search passed the limit of {} states (--max-states) in instance {}: \
                 raise the limit or verify a smaller n",
                self.limit, self.instance
            ),
            Some((bytes, per)) => write!(
                f,
                "the search reached {} states in instance {}, the most that fit in {} of \
                 memory ({per} bytes a state), and would need more: verify a smaller n",
                self.limit,
                self.instance,
                gigabytes(bytes as f64)
            ),
        }
    }
}

/// One instance's answer.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceVerdict {
    pub faulty: Vec<usize>,
    pub input: Option<u8>,
    /// The properties some adversary breaks here, in [`PROPERTIES`] order.
    pub broken: Vec<&'static str>,
    /// Distinct states searched (0 when answered by `same_as`).
    pub states: u64,
    /// The instance, alike up to renaming non-sender agents (and swapping
    /// the values, when the protocol treats them alike), whose search
    /// answered this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<usize>,
}

/// The answer for a protocol over every instance.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub game: &'static str,
    pub protocol: String,
    pub n: usize,
    pub f: usize,
    pub faults: &'static str,
    /// Fraction of the (uniformly weighted) instances in which some
    /// adversary breaks some property.
    pub optimal_attack_rate: f64,
    pub verified: bool,
    pub instances: usize,
    pub broken_instances: usize,
    /// Every property broken in some instance, in [`PROPERTIES`] order.
    pub broken: Vec<&'static str>,
    pub states: u64,
    pub per_instance: Vec<InstanceVerdict>,
    /// A shortest run that breaks the first broken property of the first
    /// broken instance.
    pub counterexample: Option<Trace>,
    /// Each instance's search stopped at its first violation
    /// (`Options::first_violation`): which instances are broken is exact,
    /// `broken` names only the properties broken there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub first_violations_only: bool,
}

/// What one instance's search found.
pub struct Found {
    /// A bit per entry of [`PROPERTIES`].
    pub broken: u8,
    pub states: u64,
    /// Per property, a shortest path of moves (in representatives' labels)
    /// to a state that breaks it.
    pub paths: Vec<Option<Vec<Step>>>,
}

/// Which reductions a search applies, and when it stops. Every reduction
/// is exact (the module's notes argue why); turning one off is for the
/// tests that check it, and for measuring what it saves.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Visit one state per class of states alike up to renaming the
    /// non-sender agents of one kind.
    pub symmetry: bool,
    /// Sleep sets: of two moves to different recipients, which commute,
    /// follow one order only.
    pub sleep_sets: bool,
    /// Answer an honest sender's input 1 from the search of input 0 when
    /// the protocol treats the values alike (checked on every view; see
    /// `mirror`).
    pub values: bool,
    /// Retire agents that can never act again (see [`Retired`]).
    pub retire: bool,
    /// Under the per-message semantics, search each value alone and merge
    /// the answers: exact (the values never touch, see `RbSpec::values`)
    /// and far smaller than both together, whose states multiply.
    pub values_apart: bool,
    /// Stop at the first broken property: enough to refute a protocol (the
    /// synthesiser's question), but then `broken` may miss properties.
    pub first_violation: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            symmetry: true,
            sleep_sets: true,
            values: true,
            retire: true,
            values_apart: true,
            first_violation: false,
        }
    }
}

/// Searches one instance; `symmetry` off gives the plain search (sleep
/// sets stay on: they never change which states are visited).
pub fn search(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    limits: &Limits,
    symmetry: bool,
) -> Result<Found, TooBig> {
    let options = Options {
        symmetry,
        ..Options::default()
    };
    search_with(spec, inst, p, limits, &options)
}

/// Searches one instance with the reductions `options` names.
///
/// Sleep sets (Godefroid): a move is named by its recipient, message and
/// kind of sender. Two moves to different recipients commute and neither
/// enables nor disables the other: a move changes its recipient's record
/// and only adds to what is in flight to others, and whether a move to
/// `r` is possible, and what it does, depends on `r`'s record alone. So
/// when a state's moves are followed in order, the successor by move `t`
/// need not follow any earlier move (or any move its parent slept on) to
/// another recipient: that order is the other side of a commuting square
/// whose far corner the earlier branch reaches. Sleep sets prune moves,
/// never states: every reachable state is still visited, which the tests
/// check by counting states with and without them.
///
/// A state reached from several parents sleeps only on what every one of
/// them lets it sleep on (the intersection). The search is breadth first
/// and every path to a state has the same length (each move is one more
/// read, and a state's reads are counted in its views), so every parent
/// of a state is expanded before it; should one not be, the state is
/// expanded again with the moves it had slept on.
pub fn search_with(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    limits: &Limits,
    options: &Options,
) -> Result<Found, TooBig> {
    Ok(search_instance(spec, inst, p, limits, options)?.0)
}

/// Searches one instance; also whether the protocol treated the values
/// alike on every view asked (with `options.values`), and whether the
/// search merged each state with its mirror (a Byzantine sender's
/// instance, when it did).
fn search_instance(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    limits: &Limits,
    options: &Options,
) -> Result<(Found, bool, bool), TooBig> {
    // Only a game with both values in play is its own mirror (a search of
    // one value alone, `RbSpec::values`, is not).
    if !options.values || spec.values != 3 {
        return Ok((run(spec, inst, p, None, limits, options)?, false, false));
    }
    let watch = mirror::Watch::new(p);
    let found = run(spec, inst, p, Some(&watch), limits, options)?;
    let merged = inst.input.is_none();
    match (watch.alike(), merged) {
        (true, _) => Ok((found, true, merged)),
        // Merged on a symmetry the protocol lacks: searched again without.
        (false, true) => Ok((run(spec, inst, p, None, limits, options)?, false, false)),
        (false, false) => Ok((found, false, false)),
    }
}

/// The search; with `watch`, the protocol is `watch`'s, and every answer it
/// gives and every agent retired is checked against the mirrored view.
fn run(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    watch: Option<&mirror::Watch>,
    limits: &Limits,
    options: &Options,
) -> Result<Found, TooBig> {
    // The seen set holds a word per agent with a record (a Byzantine
    // agent has none): three or four words make its entries a fifth or a
    // third smaller, and the search is bound by their memory.
    match words(records(spec, inst)) {
        3 => run_keyed::<3>(spec, inst, p, watch, limits, options),
        4 => run_keyed::<4>(spec, inst, p, watch, limits, options),
        _ => run_keyed::<MAX_N>(spec, inst, p, watch, limits, options),
    }
}

/// The agents of `inst` with a record (all but the Byzantine ones).
fn records(spec: &RbSpec, inst: &Instance) -> usize {
    (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)).count()
}

/// The words a seen-set key of `records` records takes.
fn words(records: usize) -> usize {
    match records {
        0..=3 => 3,
        4 => 4,
        _ => MAX_N,
    }
}

/// The search, with states kept in `W` words in the seen set.
fn run_keyed<const W: usize>(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    watch: Option<&mirror::Watch>,
    limits: &Limits,
    options: &Options,
) -> Result<Found, TooBig> {
    // With a Byzantine sender the instance itself treats the values alike:
    // a state and its mirror are searched once, if the protocol does too.
    let quotient = watch.is_some() && inst.input.is_none();
    let p: &dyn RbProtocol = match watch {
        Some(w) => w,
        None => p,
    };
    let all = (1u8 << PROPERTIES.len()) - 1;
    let stop = |broken: u8| broken == all || (options.first_violation && broken != 0);
    let classes = Classes::new(spec, inst);
    let canon = |s: &State| classes.represent(spec, s, options.symmetry, quotient);
    let words = Words::<W>::layout(spec, inst);
    let (mut first, _) = game::start(spec, inst, p);
    let mut retired = Retired::new(watch.map_or(p, |w| w.inner), watch);
    if options.retire {
        retired.retire(spec, inst, &mut first, None);
    }
    // The map is only looked up, never iterated: its order cannot leak.
    let mut seen: HashMap<Words<W>, u32, BuildHasherDefault<Fx>> = HashMap::default();
    // Per state: its parent and the move that reached it; the moves it
    // sleeps on (in its own labels); whether it has been expanded.
    let mut parent: Vec<(u32, Option<Step>)> = vec![(0, None)];
    let mut sleep: Vec<u128> = vec![0];
    let mut expanded: Vec<bool> = vec![false];
    let mut witness = vec![None; PROPERTIES.len()];
    let mut broken = 0u8;
    // The states that fit in memory, when fewer than `max_states`.
    let per_state = bytes_per_state_keyed::<W>();
    let fit = limits.max_bytes / per_state;
    let cap = limits.max_states.min(fit);
    let mut note = |state: &State, id: u32, broken: &mut u8| {
        // The properties name no agent: a state and its representative
        // break the same ones.
        let b = game::broken(spec, inst, state) & !*broken;
        for (i, w) in witness.iter_mut().enumerate() {
            if b >> i & 1 == 1 {
                *w = Some(id);
            }
        }
        *broken |= b;
    };
    note(&first, 0, &mut broken);
    let (key, _) = canon(&first);
    seen.insert(words.of(&key), 0);
    // The queue holds representatives packed, as the seen set keys them:
    // unpacking one costs less than copying a whole state in and out.
    let mut queue = VecDeque::from([(words.of(&key), 0u32)]);
    let mut moves = vec![];
    let mut successors = vec![];
    while let Some((packed, id)) = queue.pop_front() {
        let state = words.unpack(spec, &packed);
        if stop(broken) || (quotient && watch.is_some_and(|w| !w.alike())) {
            break;
        }
        let asleep = if options.sleep_sets {
            sleep[id as usize]
        } else {
            0
        };
        expanded[id as usize] = true;
        // The moves followed from here so far, in this state's labels.
        let mut followed = 0u128;
        game::steps_into(spec, inst, &state, &mut moves);
        // Every successor first, then every lookup: the lookups, each a
        // cache miss in a set far larger than the cache, then run back to
        // back and the processor overlaps their misses. The same work in
        // the same order as one move at a time.
        successors.clear();
        for &step in &moves {
            let label = label(&step);
            if asleep & label != 0 {
                continue;
            }
            let mut next = state;
            game::apply(spec, inst, p, &mut next, step);
            if options.retire {
                retired.retire(spec, inst, &mut next, Some(step.to as usize));
            }
            let (key, frame) = canon(&next);
            // What the successor may sleep on, in its own labels.
            let inherited = relabel((asleep | followed) & !recipient_mask(step.to), &frame);
            followed |= label;
            successors.push((step, words.of(&key), inherited, next));
        }
        for (step, packed, inherited, next) in &successors {
            let (step, packed, inherited) = (*step, *packed, *inherited);
            let child = parent.len() as u32;
            match seen.entry(packed) {
                Entry::Occupied(e) => {
                    let old = *e.get() as usize;
                    let narrower = sleep[old] & inherited;
                    if narrower != sleep[old] {
                        sleep[old] = narrower;
                        if expanded[old] {
                            queue.push_back((packed, old as u32));
                        }
                    }
                    continue;
                }
                Entry::Vacant(e) => {
                    e.insert(child);
                }
            }
            if parent.len() as u64 >= cap {
                return Err(TooBig {
                    limit: cap,
                    instance: describe(spec, inst),
                    memory: (cap < limits.max_states).then_some((limits.max_bytes, per_state)),
                });
            }
            parent.push((id, Some(step)));
            sleep.push(inherited);
            expanded.push(false);
            note(next, child, &mut broken);
            queue.push_back((packed, child));
        }
    }
    let path = |mut id: u32| {
        let mut steps = vec![];
        while let (up, Some(step)) = parent[id as usize] {
            steps.push(step);
            id = up;
        }
        steps.reverse();
        steps
    };
    Ok(Found {
        broken,
        states: parent.len() as u64,
        paths: witness.into_iter().map(|w| w.map(path)).collect(),
    })
}

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
/// every count set to 7, which no count can reach (n <= 6), to mark it,
/// every INIT read and every Byzantine copy used (so no move reaches it),
/// nothing in flight, what it sent and delivered kept. A run of the
/// retired game is a run of the game in which the retired agent reads
/// everything owed to it at once, which the scheduler may always do, and
/// conversely the reads it skips could never change an answer; so a state
/// is quiescent, and breaks a property, in one exactly when it does in the
/// other.
struct Retired<'a> {
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
const RETIRED: u8 = 7;

impl<'a> Retired<'a> {
    fn new(p: &'a dyn RbProtocol, watch: Option<&'a mirror::Watch<'a>>) -> Retired<'a> {
        Retired {
            p,
            watch,
            quiet: HashMap::default(),
            checked: HashMap::default(),
        }
    }

    /// Retires every agent that is quiet, or with `changed`, that agent only
    /// if quiet: a move changes its recipient's record alone (the others
    /// only get messages in flight), and quiet depends on that alone.
    fn retire(
        &mut self,
        spec: &RbSpec,
        inst: &Instance,
        state: &mut State,
        changed: Option<usize>,
    ) {
        for a in (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)) {
            let me = &mut state[a];
            if me.count[0] == RETIRED {
                // What others sent it since: read at once, to no effect.
                me.from_correct = [0; game::MSGS];
                me.from_faulty = [0; game::MSGS];
                continue;
            }
            if changed.is_some_and(|c| c != a) {
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
fn record_key(me: &Local, sender: bool, input: Option<u8>) -> u32 {
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

/// How a state maps to its representative: its records reordered
/// (`perm[i]`: the agent whose record is `i`-th), then, when `flipped`,
/// every value swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub perm: [usize; MAX_N],
    pub flipped: bool,
}

impl Frame {
    /// The representative of `state`.
    pub fn apply(&self, state: &State) -> State {
        let out = self.perm.map(|i| state[i]);
        if self.flipped {
            mirror::state(&out)
        } else {
            out
        }
    }

    /// A move of the representative, as the move of the state it stands
    /// for.
    pub fn step_back(&self, step: &Step) -> Step {
        let mut out = *step;
        out.to = self.perm[step.to as usize] as u8;
        if self.flipped {
            out.msg.value = 1 - out.msg.value;
        }
        out
    }
}

/// The permutation that renames nobody.
const IDENTITY: [usize; MAX_N] = [0, 1, 2, 3, 4, 5];

/// Bits a recipient's moves take in a label set: 6 messages times 3 kinds
/// of sender.
const PER_RECIPIENT: u32 = (game::MSGS * 3) as u32;

/// A move as one bit of a set: recipient, message, kind of sender.
fn label(step: &Step) -> u128 {
    let source = match step.from {
        Source::Correct => 0,
        Source::Faulty => 1,
        Source::Byzantine => 2,
    };
    1u128 << (step.to as u32 * PER_RECIPIENT + step.msg.index() as u32 * 3 + source)
}

/// Every move to `to`.
fn recipient_mask(to: u8) -> u128 {
    ((1u128 << PER_RECIPIENT) - 1) << (to as u32 * PER_RECIPIENT)
}

/// A label set moved to a representative's frame.
fn relabel(labels: u128, frame: &Frame) -> u128 {
    if labels == 0 {
        return 0;
    }
    let block = (1u128 << PER_RECIPIENT) - 1;
    let mut out = 0;
    for (i, &old) in frame.perm.iter().enumerate() {
        out |= (labels >> (old as u32 * PER_RECIPIENT) & block) << (i as u32 * PER_RECIPIENT);
    }
    if frame.flipped {
        // Swap each message's three sender bits with its other value's.
        out = (out & EVEN) << 3 | (out >> 3) & EVEN;
    }
    out
}

/// The sender bits of every value-0 message in a label set (the value-1
/// ones are the next three bits up).
const EVEN: u128 = {
    let mut even = 0;
    let mut m = 0;
    while m < MAX_N * game::MSGS / 2 {
        even |= 0b111u128 << (m * 6);
        m += 1;
    }
    even
};

/// The agents that may be renamed into one another in an instance: the
/// non-sender agents, by kind (correct, faulty), in increasing id.
struct Classes {
    slots: [[usize; MAX_N]; 2],
    len: [usize; 2],
}

impl Classes {
    fn new(spec: &RbSpec, inst: &Instance) -> Classes {
        let mut out = Classes {
            slots: [[0; MAX_N]; 2],
            len: [0; 2],
        };
        for i in 1..spec.n {
            let c = inst.is_faulty(i) as usize;
            out.slots[c][out.len[c]] = i;
            out.len[c] += 1;
        }
        out
    }

    /// The representative of the class of a packed state, and where each of
    /// its records came from (`perm[i]`: the agent whose record is
    /// `i`-th). The records of each kind are sorted by their packed form, a
    /// total order on records (packing is one to one within a game).
    fn canonical_key(&self, packed: &Packed) -> (Packed, [usize; MAX_N]) {
        let packed = &packed.0;
        let mut perm = IDENTITY;
        for (slots, &k) in self.slots.iter().zip(&self.len) {
            let mut order = *slots;
            // Insertion sort, stable: at most five records.
            for j in 1..k {
                let mut i = j;
                while i > 0 && packed[order[i - 1]] > packed[order[i]] {
                    order.swap(i - 1, i);
                    i -= 1;
                }
            }
            for j in 0..k {
                perm[slots[j]] = order[j];
            }
        }
        // A loop, not `perm.map`: that one is not inlined.
        let mut sorted = [0; MAX_N];
        for (s, &i) in sorted.iter_mut().zip(&perm) {
            *s = packed[i];
        }
        (Packed(sorted), perm)
    }

    /// The packed representative of `state` and its frame: sorted (with
    /// `symmetry`), and with `values` the smaller of that and its mirror's.
    fn represent(
        &self,
        spec: &RbSpec,
        state: &State,
        symmetry: bool,
        values: bool,
    ) -> (Packed, Frame) {
        let sort = |s: &Packed| {
            if symmetry {
                self.canonical_key(s)
            } else {
                (*s, IDENTITY)
            }
        };
        let packed = Packed::of(spec, state);
        let (key, perm) = sort(&packed);
        if !values {
            return (
                key,
                Frame {
                    perm,
                    flipped: false,
                },
            );
        }
        // The mirror packed from the packing: the same key as packing
        // `mirror::state(state)`, without building that state.
        let (other, other_perm) = sort(&Packed(packed.0.map(mirror_packed)));
        if other.0 < key.0 {
            (
                other,
                Frame {
                    perm: other_perm,
                    flipped: true,
                },
            )
        } else {
            (
                key,
                Frame {
                    perm,
                    flipped: false,
                },
            )
        }
    }
}

/// A packed record with every value swapped: `mirror::record` on the
/// packing (`Local::pack`). Each field about a value sits next to the
/// same field about the other value: the 1-bit fields (INITs read, values
/// delivered, messages sent either way) in adjacent bits from bit 48 up,
/// the 3-bit counts (ECHO and READY read, then per message in flight) in
/// adjacent 3-bit halves of 6-bit groups from bit 0 up. So the swap is
/// two masked shifts; a retired record (every count 7, both INITs read)
/// stays itself, as `mirror::record` keeps it.
fn mirror_packed(key: u64) -> u64 {
    const BITS: u64 = 0x5555 << 48;
    const COUNTS: u64 = 0o0707_0707_0707_0707;
    (key & BITS) << 1 | (key >> 1) & BITS | (key & COUNTS) << 3 | (key >> 3) & COUNTS
}

/// A state packed: a record in 64 bits per agent (the records past `n`
/// stay 0).
#[derive(Clone, Copy, Debug)]
struct Packed([u64; MAX_N]);

impl Packed {
    fn of(spec: &RbSpec, state: &State) -> Packed {
        let mut out = [0; MAX_N];
        for (o, l) in out.iter_mut().zip(&state[..spec.n]) {
            *o = l.pack();
        }
        Packed(out)
    }
}

/// The words of a packed state that may be nonzero: those of the agents
/// with a record. A Byzantine agent's record stays empty, and sorting
/// keeps every agent's record among its own kind's slots, so which words
/// are left out is the instance's alone: the key is one to one.
#[derive(Clone, Copy, Debug)]
struct Words<const W: usize>([u64; W]);

/// Which words of a packed state a key keeps, in order.
struct Layout<const W: usize>([usize; W]);

impl<const W: usize> Words<W> {
    /// The words kept: every agent with a record, then (to fill `W`) words
    /// that are always 0, a Byzantine agent's or those past `n`.
    fn layout(spec: &RbSpec, inst: &Instance) -> Layout<W> {
        let kept = (0..MAX_N).filter(|&a| a < spec.n && !inst.is_byzantine(spec, a));
        let empty = (0..MAX_N).filter(|&a| a >= spec.n || inst.is_byzantine(spec, a));
        let mut order = kept.chain(empty);
        Layout(std::array::from_fn(|_| order.next().expect("W <= MAX_N")))
    }
}

impl<const W: usize> Layout<W> {
    fn of(&self, key: &Packed) -> Words<W> {
        debug_assert!(
            (0..MAX_N).all(|a| self.0.contains(&a) || key.0[a] == 0),
            "a word left out of the key is not empty"
        );
        Words(self.0.map(|a| key.0[a]))
    }

    /// The state a key packs (the records left out are empty).
    fn unpack(&self, spec: &RbSpec, words: &Words<W>) -> State {
        let byzantine = spec.faults == game::RbFaults::Byzantine;
        let mut out = [Local::default(); MAX_N];
        for (&a, &w) in self.0.iter().zip(&words.0) {
            let mut me = Local::unpack(w, byzantine);
            if me.count[0] == RETIRED {
                // A retired record has every Byzantine copy used under
                // either faults (see `Retired::retire`), which its packing
                // shares with the copies from crash-prone agents.
                me.from_faulty = [0; game::MSGS];
                me.byzantine_used = [spec.f as u8; game::MSGS];
            }
            out[a] = me;
        }
        out
    }
}

impl<const W: usize> PartialEq for Words<W> {
    fn eq(&self, other: &Words<W>) -> bool {
        // Not `==` on the arrays: that is a call to memcmp.
        self.0
            .iter()
            .zip(&other.0)
            .fold(true, |same, (a, b)| same & (a == b))
    }
}

impl<const W: usize> Eq for Words<W> {}

impl<const W: usize> std::hash::Hash for Words<W> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for &w in &self.0 {
            h.write_u64(w);
        }
    }
}

/// A fast hash for the seen set (Fx's multiply-rotate): the set is never
/// iterated, so the hash decides speed only, never an answer.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Verifies `p` over every instance of `spec`, with every reduction.
pub fn verify(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Result<Report, TooBig> {
    verify_with(spec, p, limits, &Options::default())
}

/// Verifies `p` over every instance of `spec` with the reductions and the
/// stopping rule `options` names.
pub fn verify_with(
    spec: &RbSpec,
    p: &dyn RbProtocol,
    limits: &Limits,
    options: &Options,
) -> Result<Report, TooBig> {
    if options.values_apart && spec.semantics == Semantics::PerMessage && spec.values == 3 {
        let a = verify_with(&spec.one_value(0), p, limits, options)?;
        let b = verify_with(&spec.one_value(1), p, limits, options)?;
        return Ok(merge_values(a, b));
    }
    let instances = game::instances(spec);
    let mut per_instance = vec![];
    let mut counterexample = None;
    let mut union = 0u8;
    // Instances alike up to renaming the non-sender agents (the same
    // sender's fault and input) have the same answer: searched once each.
    // With the values swapped too, when the protocol treats them alike:
    // the input-1 class is answered by the input-0 one.
    let mut searched: BTreeMap<(bool, Option<u8>), (usize, u8)> = BTreeMap::new();
    for (k, inst) in instances.iter().enumerate() {
        let class = (inst.is_faulty(game::SENDER), inst.input);
        if let Some(&(first, broken)) = searched.get(&class) {
            per_instance.push(InstanceVerdict {
                faulty: (0..spec.n).filter(|&i| inst.is_faulty(i)).collect(),
                input: inst.input,
                broken: names(broken),
                states: 0,
                same_as: Some(first),
            });
            continue;
        }
        let (found, alike, merged) = search_instance(spec, inst, p, limits, options)?;
        searched.insert(class, (k, found.broken));
        if inst.input == Some(0) && alike {
            searched.insert((class.0, Some(1)), (k, found.broken));
        }
        union |= found.broken;
        if counterexample.is_none() {
            if let Some((i, Some(path))) = found.paths.iter().enumerate().find(|x| x.1.is_some()) {
                // The replay follows the search's frames: mirrored or not.
                let used = Options {
                    values: merged,
                    ..*options
                };
                counterexample = Some(trace::replay(spec, inst, p, &used, path, i));
            }
        }
        per_instance.push(InstanceVerdict {
            faulty: (0..spec.n).filter(|&i| inst.is_faulty(i)).collect(),
            input: inst.input,
            broken: names(found.broken),
            states: found.states,
            same_as: None,
        });
    }
    let broken_instances = per_instance.iter().filter(|v| !v.broken.is_empty()).count();
    Ok(Report {
        game: "reliable_broadcast",
        protocol: p.name(),
        n: spec.n,
        f: spec.f,
        faults: spec.faults.name(),
        optimal_attack_rate: broken_instances as f64 / instances.len() as f64,
        verified: broken_instances == 0,
        instances: instances.len(),
        broken_instances,
        broken: names(union),
        states: per_instance.iter().map(|v| v.states).sum(),
        per_instance,
        counterexample,
        first_violations_only: options.first_violation,
    })
}

/// One report from the reports of each value searched alone: an instance
/// breaks what either value breaks.
fn merge_values(mut r: Report, other: Report) -> Report {
    let union = |a: &[&'static str], b: &[&'static str]| -> Vec<&'static str> {
        PROPERTIES
            .iter()
            .map(|p| p.name)
            .filter(|n| a.contains(n) || b.contains(n))
            .collect()
    };
    for (x, y) in r.per_instance.iter_mut().zip(&other.per_instance) {
        x.broken = union(&x.broken, &y.broken);
        x.states += y.states;
    }
    r.broken = union(&r.broken, &other.broken);
    r.states += other.states;
    r.broken_instances = r
        .per_instance
        .iter()
        .filter(|v| !v.broken.is_empty())
        .count();
    r.optimal_attack_rate = r.broken_instances as f64 / r.instances as f64;
    r.verified = r.broken_instances == 0;
    r.counterexample = r.counterexample.or(other.counterexample);
    r
}

fn names(bits: u8) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits >> i & 1 == 1)
        .map(|(_, p)| p.name)
        .collect()
}

/// An instance as a person reads it.
pub fn describe(spec: &RbSpec, inst: &Instance) -> String {
    let faulty: Vec<String> = (0..spec.n)
        .filter(|&i| inst.is_faulty(i))
        .map(|i| i.to_string())
        .collect();
    let who = match faulty.len() {
        0 => "no faulty agent".to_string(),
        _ => format!("{} agent(s) {}", spec.faults.name(), faulty.join(", ")),
    };
    match inst.input {
        Some(v) => format!("{who}, sender's input {v}"),
        None => format!("{who}, the sender Byzantine"),
    }
}

/// The representative of `state`'s class as the search with `options`
/// sees it (agents that can never act again retired, then sorted within
/// each class of non-sender agents by packed record), and where each of
/// its frame. With `options.values`, a Byzantine sender's states are
/// merged with their mirrors, as the search does when the protocol treats
/// the values alike. A replay follows the search's moves through it.
pub fn canonical(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    options: &Options,
    state: State,
) -> (State, Frame) {
    let mut seen = state;
    if options.retire {
        Retired::new(p, None).retire(spec, inst, &mut seen, None);
    }
    let merged = options.values && spec.values == 3 && inst.input.is_none();
    let (_, frame) = Classes::new(spec, inst).represent(spec, &seen, options.symmetry, merged);
    (frame.apply(&seen), frame)
}

/// A search's path (in representatives' labels; `merged`: the search
/// merged states with their mirrors) as moves of the game itself: real
/// agent ids, ending quiescent when the path ends quiescent once retired
/// agents have read what is owed to them. For replaying a counterexample
/// move by move (learning teams are trained on them).
fn real_moves(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    merged: bool,
    path: &[Step],
) -> Vec<Step> {
    let used = Options {
        values: merged,
        ..Options::default()
    };
    let (mut state, _) = game::start(spec, inst, p);
    let mut moves = vec![];
    for step in path {
        let (_, frame) = canonical(spec, inst, p, &used, state);
        let real = frame.step_back(step);
        game::apply(spec, inst, p, &mut state, real);
        moves.push(real);
    }
    // What is still owed goes to retired agents, to no effect: delivered,
    // so the run ends where a fair run may stop.
    if !game::quiescent(spec, inst, &state) && quiescent_once_retired(spec, inst, p, &state) {
        for r in inst.correct(spec) {
            for m in Msg::all() {
                for _ in 0..state[r].from_correct[m.index()] {
                    let step = Step {
                        to: r as u8,
                        msg: m,
                        from: Source::Correct,
                    };
                    game::apply(spec, inst, p, &mut state, step);
                    moves.push(step);
                }
            }
        }
    }
    moves
}

/// A learning row's question: in which instances does some adversary
/// break some property, and how? Each instance's search stops at its
/// first violation, so a broken protocol is answered in the few states
/// before it, where [`verify`] would go on to find every other property
/// broken (and a protocol that sends every message passes any limit on
/// the way). Whether an instance is broken is exact; which properties,
/// only those broken at the first violation.
#[derive(Clone, Debug)]
pub struct Refutation {
    /// Per instance of [`game::instances`]: the properties broken at the
    /// first violation (a bit per entry of [`PROPERTIES`]; 0 when the
    /// whole search found none), or `None` when the search passed the
    /// limit before either.
    pub per_instance: Vec<Option<u8>>,
    /// Distinct states searched, a search that passed the limit counted
    /// at the limit.
    pub states: u64,
    /// Per broken instance searched itself (not answered by an alike one),
    /// in instance order: its index and a shortest run that breaks it (the
    /// first property broken there, in [`PROPERTIES`] order), as moves of
    /// the game itself (`real_moves`).
    pub counterexamples: Vec<(usize, Vec<Step>)>,
}

impl Refutation {
    /// The share of instances some adversary breaks, when every instance
    /// has an answer.
    pub fn optimal_attack_rate(&self) -> Option<f64> {
        let known: Option<Vec<u8>> = self.per_instance.iter().copied().collect();
        known.map(|b| b.iter().filter(|&&x| x != 0).count() as f64 / self.per_instance.len() as f64)
    }

    /// Instances broken (every broken one is certain, an unknown one
    /// counts as not broken).
    pub fn broken_instances(&self) -> usize {
        self.per_instance
            .iter()
            .filter(|b| b.is_some_and(|x| x != 0))
            .count()
    }

    /// Verified (every instance searched whole, none broken), refuted
    /// (some instance broken), or unknown.
    pub fn verified(&self) -> Option<bool> {
        match (self.broken_instances(), self.optimal_attack_rate()) {
            (0, None) => None,
            (0, Some(_)) => Some(true),
            _ => Some(false),
        }
    }

    /// Every property broken at some instance's first violation, in
    /// [`PROPERTIES`] order.
    pub fn broken(&self) -> Vec<&'static str> {
        names(self.per_instance.iter().flatten().fold(0, |a, b| a | b))
    }
}

/// Searches every instance of `spec` up to its first violation (see
/// [`Refutation`]). Instances alike up to renaming non-sender agents (and
/// swapping values, when the protocol treats them alike on every view
/// asked: then the mirror of a run is a run with the mirrored answers) are
/// searched once, as in [`verify`].
pub fn refute(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Refutation {
    let options = Options {
        first_violation: true,
        ..Options::default()
    };
    let instances = game::instances(spec);
    let mut answered: BTreeMap<(bool, Option<u8>), Option<u8>> = BTreeMap::new();
    let mut r = Refutation {
        per_instance: vec![],
        states: 0,
        counterexamples: vec![],
    };
    for (k, inst) in instances.iter().enumerate() {
        let class = (inst.is_faulty(game::SENDER), inst.input);
        if let Some(&b) = answered.get(&class) {
            r.per_instance.push(b);
            continue;
        }
        let answer = match search_instance(spec, inst, p, limits, &options) {
            Err(too_big) => {
                r.states += too_big.limit;
                None
            }
            Ok((found, alike, merged)) => {
                r.states += found.states;
                if inst.input == Some(0) && alike {
                    answered.insert((class.0, Some(1)), Some(found.broken));
                }
                if let Some(path) = found.paths.into_iter().flatten().next() {
                    r.counterexamples
                        .push((k, real_moves(spec, inst, p, merged, &path)));
                }
                Some(found.broken)
            }
        };
        answered.insert(class, answer);
        r.per_instance.push(answer);
    }
    r
}

/// Whether `state` is quiescent once its agents that can never act again
/// have read what is owed to them (see [`Retired`]).
pub fn quiescent_once_retired(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    state: &State,
) -> bool {
    let mut seen = *state;
    Retired::new(p, None).retire(spec, inst, &mut seen, None);
    game::quiescent(spec, inst, &seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a record set to each value its width allows, one
    /// field at a time and all together from a fixed stream: the packed
    /// mirror is the mirror's packing.
    #[test]
    fn mirror_packed_is_the_packed_mirror() {
        let mut records = vec![Local::default()];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            let mut draw = |bound: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % bound) as u8
            };
            let mut l = Local {
                init: draw(4),
                delivered: draw(4),
                sent: draw(64),
                to_self: draw(64),
                ..Local::default()
            };
            l.count = std::array::from_fn(|_| draw(8));
            l.from_correct = std::array::from_fn(|_| draw(8));
            l.byzantine_used = std::array::from_fn(|_| draw(8));
            records.push(l);
        }
        for l in &records {
            assert_eq!(mirror_packed(l.pack()), mirror::record(l).pack(), "{l:?}");
            // The queue keeps states packed: a record comes back whole,
            // and with crash faults' copies in place of Byzantine ones.
            assert_eq!(Local::unpack(l.pack(), true), *l);
            let crash = Local {
                from_faulty: l.byzantine_used,
                byzantine_used: [0; game::MSGS],
                ..*l
            };
            assert_eq!(Local::unpack(crash.pack(), false), crash);
        }
        // And a flip of only one value's field is seen: the test can fail.
        let one = Local {
            init: 1,
            ..Local::default()
        };
        assert_ne!(mirror_packed(one.pack()), one.pack());
    }
}
