//! The exact search's engine: every message ordering and every Byzantine
//! injection of one instance, breadth first, so each counterexample is a
//! shortest one (in the moves the search branches on: see `eager`).
//! `search` builds the reports over every instance on it and `trace`
//! replays its paths; this module imports neither.
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
//! representative of its class, and the search visits one per class
//! (`canon`). The tests check it against a search without it and against
//! an independent brute force over concrete messages
//! (`envs/tests/reliable_broadcast.rs`).
//!
//! More reductions, each exact and each argued where it is built:
//! - sleep sets over moves to different recipients, which commute (they
//!   prune moves, never states: `bfs`); only with the two below off;
//! - swapping the values 0 and 1, when the protocol is checked to treat
//!   them alike on every view the search asks about (`mirror`);
//! - retiring agents that can never act again (`retire`): their reads
//!   change nothing, so they read everything owed to them at once;
//! - reading at once every copy from a correct agent whose read changes
//!   no decision now or before the next copy of that message would be
//!   read (`eager`), and never letting a Byzantine or crash-prone copy
//!   stand in for a correct copy of the same message in flight to the
//!   same agent (`bfs`, argued in `docs/reliable_broadcast.md`).
//!
//! `envs/tests/rb_reductions.rs` checks that every combination gives every
//! instance the same answer.

mod bfs;
mod canon;
mod eager;
mod limits;
mod retire;

pub use canon::{Frame, Fx};
pub use limits::{bytes_per_state, bytes_per_state_keyed, Limits, TooBig, MAX_BYTES};

use super::game::{self, Instance, RbSpec, State, Step, MAX_N};
use super::mirror;
use super::protocols::RbProtocol;
use canon::Classes;
use eager::Invisible;
use retire::Retired;

/// What one instance's search found.
pub struct Found {
    /// A bit per entry of [`game::PROPERTIES`].
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
    /// follow one order only. Used only with `eager` and `correct_first`
    /// off: their moves neither commute so simply nor keep each other
    /// enabled.
    pub sleep_sets: bool,
    /// Answer an honest sender's input 1 from the search of input 0 when
    /// the protocol treats the values alike (checked on every view; see
    /// `mirror`).
    pub values: bool,
    /// Retire agents that can never act again (see `retire`).
    pub retire: bool,
    /// Read at once each copy from a correct agent whose read is
    /// invisible (see `eager`).
    pub eager: bool,
    /// Byzantine ECHOs and READYs are injected only when they change a
    /// decision, with any that waited for them (see `bfs`).
    pub lazy: bool,
    /// No Byzantine or crash-prone copy of a message is read by an agent
    /// while a correct copy of it is in flight to that agent.
    pub correct_first: bool,
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
            eager: true,
            lazy: true,
            correct_first: true,
            values_apart: true,
            first_violation: false,
        }
    }
}

impl Options {
    /// The reductions of commit 752c3ba and before (no eager reads, no
    /// correct copies first): what the state counts of earlier docs count.
    pub fn before_eager() -> Options {
        Options {
            eager: false,
            lazy: false,
            correct_first: false,
            ..Options::default()
        }
    }

    /// Whether sleep sets are in use (see [`Options::sleep_sets`]).
    fn sleeping(&self) -> bool {
        self.sleep_sets && !self.eager && !self.lazy && !self.correct_first
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

/// Searches one instance with the reductions `options` names (see `bfs`
/// for the sleep sets).
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
pub fn search_instance(
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
/// gives, every agent retired and every read made at once is checked
/// against the mirrored view.
fn run(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    watch: Option<&mirror::Watch>,
    limits: &Limits,
    options: &Options,
) -> Result<Found, TooBig> {
    // The seen set holds a word per agent with a record (a Byzantine
    // agent has none): fewer words make its entries smaller, and the
    // search is bound by their memory.
    match words(records(spec, inst)) {
        3 => bfs::Search::<3>::run(spec, inst, p, watch, limits, options),
        4 => bfs::Search::<4>::run(spec, inst, p, watch, limits, options),
        5 => bfs::Search::<5>::run(spec, inst, p, watch, limits, options),
        6 => bfs::Search::<6>::run(spec, inst, p, watch, limits, options),
        _ => bfs::Search::<MAX_N>::run(spec, inst, p, watch, limits, options),
    }
}

/// The agents of `inst` with a record (all but the Byzantine ones).
fn records(spec: &RbSpec, inst: &Instance) -> usize {
    (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)).count()
}

/// The words a seen-set key of `records` records takes.
fn words(records: usize) -> usize {
    records.clamp(3, MAX_N)
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
/// each class of non-sender agents by packed record), and its frame.
/// With `options.values`, a Byzantine sender's states are merged with
/// their mirrors, as the search does when the protocol treats the values
/// alike. A replay follows the search's moves through it.
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

/// The moves the search makes at once after every move it branches on
/// (and at the start): with `options.eager`, the invisible reads of
/// copies from correct agents (see `eager`), applied to `state`, as moves
/// of the game. A replay plays them after each move of a path.
pub fn at_once(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    options: &Options,
    state: &mut State,
) -> Vec<Step> {
    let mut log = vec![];
    if options.eager {
        Invisible::new(p, None).close(spec, inst, state, None, Some(&mut log));
    }
    log
}

/// With `options.lazy`, the Byzantine copies the search injects right
/// before a Byzantine ECHO or READY `step` (as moves of the game, on
/// `state`, where `step` is played next): those of the same message to the
/// same agent that wait (see `bfs`). A replay plays them before `step`.
pub fn batch_before(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    options: &Options,
    state: &State,
    step: Step,
) -> Vec<Step> {
    let mut out = vec![];
    if !options.lazy || step.from != game::Source::Byzantine || step.msg.kind == game::Kind::Init {
        return out;
    }
    let mut invisible = Invisible::new(p, None);
    let a = step.to as usize;
    let input = if a == game::SENDER { inst.input } else { None };
    let i = step.msg.index();
    let mut me = state[a];
    while (me.byzantine_used[i] as usize) < spec.f
        && invisible.invisible(spec, &me, a, input, step.msg)
    {
        me.byzantine_used[i] += 1;
        me.read(spec.semantics, step.msg);
        out.push(step);
    }
    out
}

/// Whether `state` is quiescent once its agents that can never act again
/// have read what is owed to them (see `retire`).
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
