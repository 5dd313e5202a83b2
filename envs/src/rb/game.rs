//! The reliable-broadcast game's rules as pure functions over a typed state
//! (issue 16; the decisions are written down in `docs/reliable_broadcast.md`).
//!
//! Agent 0 is the designated sender and holds the input. Messages are INIT
//! (the sender's only), ECHO and READY, each with a value in {0, 1}, sent to
//! every agent over authenticated channels. There is no clock: an honest
//! agent acts on every change of its view, choosing which messages to send
//! (each at most once) and whether to deliver (at most once).
//!
//! **An agent counts its own messages**, at the moment it sends them: its
//! copy to itself is local and never in flight. So a count is "distinct
//! agents, myself included", as in the textbook algorithms that send "to
//! all"; a protocol that wants the others only subtracts its own `sent` bit.
//!
//! The state holds, per non-Byzantine agent, its view and what is in flight
//! *to* it, counted by kind of sender rather than by sender id. That is
//! exact, not an approximation: a view holds counts of distinct senders, each
//! honest agent sends each message once, and each Byzantine agent is allowed
//! each message once per recipient (a second copy from the same Byzantine
//! agent changes no count, and a second INIT is ignored: the first one read
//! is the sender's INIT), so every arrival is from a new sender and only the
//! number in flight matters, not who sent them.

use super::protocols::RbProtocol;
use serde::Serialize;

/// Message kinds; INIT is only the sender's.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub enum Kind {
    Init,
    Echo,
    Ready,
}

/// A message: a kind and a value. Indexed 0..6 as INIT 0, INIT 1, ECHO 0,
/// ECHO 1, READY 0, READY 1 (the bit order of every message set here).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Msg {
    pub kind: Kind,
    pub value: u8,
}

/// Number of distinct messages.
pub const MSGS: usize = 6;

impl Msg {
    pub const fn new(kind: Kind, value: u8) -> Msg {
        Msg { kind, value }
    }
    pub const fn init(value: u8) -> Msg {
        Msg::new(Kind::Init, value)
    }
    pub const fn echo(value: u8) -> Msg {
        Msg::new(Kind::Echo, value)
    }
    pub const fn ready(value: u8) -> Msg {
        Msg::new(Kind::Ready, value)
    }

    /// Its index in 0..6 and bit in a message set.
    pub const fn index(self) -> usize {
        self.kind as usize * 2 + self.value as usize
    }

    pub const fn bit(self) -> u8 {
        1 << self.index()
    }

    pub fn from_index(i: usize) -> Msg {
        let kind = [Kind::Init, Kind::Echo, Kind::Ready][i / 2];
        Msg::new(kind, (i % 2) as u8)
    }

    /// Every message, in index order.
    pub fn all() -> impl Iterator<Item = Msg> {
        (0..MSGS).map(Msg::from_index)
    }

    /// As a person reads it: `ECHO 1`.
    pub fn name(self) -> String {
        let kind = match self.kind {
            Kind::Init => "INIT",
            Kind::Echo => "ECHO",
            Kind::Ready => "READY",
        };
        format!("{kind} {}", self.value)
    }
}

/// Who the faulty agents are.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RbFaults {
    /// Byzantine agents send anything to anyone, at any time.
    Byzantine,
    /// Crash-prone agents run the protocol but may stop at any point: the
    /// scheduler need not deliver anything they send or anything sent to
    /// them (links are reliable between correct agents only).
    Crash,
}

impl RbFaults {
    pub fn name(self) -> &'static str {
        match self {
            RbFaults::Byzantine => "byzantine",
            RbFaults::Crash => "crash",
        }
    }
    pub fn parse(s: &str) -> Option<RbFaults> {
        match s {
            "byzantine" => Some(RbFaults::Byzantine),
            "crash" => Some(RbFaults::Crash),
            _ => None,
        }
    }
}

/// The largest `n` the game is built for: a state is a fixed array of
/// this many records, each packed in 64 bits for the search (3 bits a
/// count). The search gives up sooner (see `search::Limits`).
pub const MAX_N: usize = 6;

/// The designated sender.
pub const SENDER: usize = 0;

/// The static game: how many agents, how many faulty, which faults.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct RbSpec {
    pub n: usize,
    pub f: usize,
    pub faults: RbFaults,
}

impl RbSpec {
    /// Checks the sizes; the error names the flag (`n`, `f`).
    pub fn new(n: usize, f: usize, faults: RbFaults) -> Result<RbSpec, (&'static str, String)> {
        if !(2..=MAX_N).contains(&n) {
            return Err(("n", format!("the game is built for 2 to {MAX_N} agents")));
        }
        if f >= n {
            return Err(("f", format!("at most n - 1 = {} faulty agents", n - 1)));
        }
        Ok(RbSpec { n, f, faults })
    }
}

/// One instance: where the faulty agents are and the sender's input (none
/// when the sender is Byzantine: it has no input that binds it).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Instance {
    /// Bit `i` set: agent `i` is faulty.
    pub faulty: u8,
    pub input: Option<u8>,
}

impl Instance {
    pub fn is_faulty(&self, i: usize) -> bool {
        self.faulty >> i & 1 == 1
    }

    /// Faulty and Byzantine: the adversary speaks for it; it has no record.
    pub fn is_byzantine(&self, spec: &RbSpec, i: usize) -> bool {
        spec.faults == RbFaults::Byzantine && self.is_faulty(i)
    }

    /// Not faulty: the agents the properties speak of.
    pub fn correct(&self, spec: &RbSpec) -> impl Iterator<Item = usize> + '_ {
        (0..spec.n).filter(|&i| !self.is_faulty(i))
    }
}

/// Every instance, as broadcast mode counts them (`envs::instances`): each
/// placement of `f` faulty agents in increasing mask order, then the
/// sender's input 0 and 1, or one instance when the sender is Byzantine.
/// At n = 4, f = 1 Byzantine: 7; at n = 3, f = 1: 5 (6 under crashes, where
/// a crash-prone sender still has an input). Uniformly weighted.
pub fn instances(spec: &RbSpec) -> Vec<Instance> {
    let mut out = vec![];
    for faulty in 0..1u16 << spec.n {
        if faulty.count_ones() as usize != spec.f {
            continue;
        }
        let inst = Instance {
            faulty: faulty as u8,
            input: None,
        };
        if inst.is_byzantine(spec, SENDER) {
            out.push(inst);
        } else {
            for v in 0..2 {
                out.push(Instance {
                    input: Some(v),
                    ..inst
                });
            }
        }
    }
    out
}

/// What an honest agent acts on: no round, no ids but the sender's.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct View {
    /// The input: the sender's only.
    pub input: Option<u8>,
    /// The sender's INIT as first read (the sender reads its own).
    pub init: Option<u8>,
    /// Distinct agents, itself included, whose ECHO 0, ECHO 1, READY 0,
    /// READY 1 reached it (index `msg.index() - 2`).
    pub count: [u8; 4],
    /// The messages it has sent (a set over message indices).
    pub sent: u8,
    pub delivered: Option<u8>,
}

impl View {
    /// How many distinct agents sent `msg` (ECHO or READY) to it.
    pub fn count(&self, msg: Msg) -> usize {
        debug_assert!(msg.kind != Kind::Init);
        self.count[msg.index() - 2] as usize
    }

    /// The same, not counting itself: "received from others".
    pub fn from_others(&self, msg: Msg) -> usize {
        self.count(msg) - self.has_sent(msg) as usize
    }

    pub fn has_sent(&self, msg: Msg) -> bool {
        self.sent & msg.bit() != 0
    }

    /// Whether it has sent any message of `kind`.
    pub fn has_sent_kind(&self, kind: Kind) -> bool {
        self.has_sent(Msg::new(kind, 0)) || self.has_sent(Msg::new(kind, 1))
    }
}

/// What an honest agent does on a view: messages to send (a set; already
/// sent ones and INITs of a non-sender are ignored) and a value to deliver
/// (ignored once it has delivered).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Decision {
    pub sends: u8,
    pub deliver: Option<u8>,
}

impl Decision {
    pub fn send(mut self, msg: Msg) -> Decision {
        self.sends |= msg.bit();
        self
    }
    pub fn deliver(mut self, v: u8) -> Decision {
        self.deliver = Some(v);
        self
    }
}

/// One agent's record: its view, and what is in flight to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Local {
    /// The sender's INIT as first read: 0 none, 1 + value.
    pub init: u8,
    pub count: [u8; 4],
    pub sent: u8,
    /// 0 none, 1 + value.
    pub delivered: u8,
    /// Per message: copies in flight to it from correct agents.
    pub from_correct: [u8; MSGS],
    /// Per message: copies in flight to it from crash-prone agents (crash
    /// faults; never owed).
    pub from_faulty: [u8; MSGS],
    /// Per message: Byzantine agents whose copy already reached it.
    pub byzantine_used: [u8; MSGS],
}

impl Local {
    pub fn delivered(&self) -> Option<u8> {
        self.delivered.checked_sub(1)
    }

    pub fn view(&self, input: Option<u8>) -> View {
        View {
            input,
            init: self.init.checked_sub(1),
            count: self.count,
            sent: self.sent,
            delivered: self.delivered(),
        }
    }

    /// Reads `msg` (one more distinct sender); whether its view changed.
    fn read(&mut self, msg: Msg) -> bool {
        match msg.kind {
            Kind::Init if self.init == 0 => {
                self.init = 1 + msg.value;
                true
            }
            Kind::Init => false,
            _ => {
                self.count[msg.index() - 2] += 1;
                true
            }
        }
    }
}

/// The whole state of one instance: a record per agent (a Byzantine
/// agent's, and those past `n`, stay empty: the adversary holds no state
/// the game needs). A fixed array: the search copies it on every move.
pub type State = [Local; MAX_N];

/// A state packed for the search's seen set.
pub type Key = [u64; MAX_N];

/// The bit widths of a packed record: init, delivered, sent, the four
/// counts, then per message the copies from correct agents and the copies
/// from faulty ones (from crash-prone agents under crashes, Byzantine
/// injections made under Byzantine faults: never both in one game).
const WIDTHS: [u32; 19] = [2, 2, 6, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];

impl Local {
    fn fields(&self) -> [u8; 19] {
        let mut out = [0; 19];
        out[0] = self.init;
        out[1] = self.delivered;
        out[2] = self.sent;
        out[3..7].copy_from_slice(&self.count);
        out[7..13].copy_from_slice(&self.from_correct);
        for (i, o) in out[13..19].iter_mut().enumerate() {
            *o = self.from_faulty[i] | self.byzantine_used[i];
        }
        out
    }

    /// The record in 64 bits (every field fits its width when n <= MAX_N).
    pub fn pack(&self) -> u64 {
        let mut key = 0u64;
        for (x, w) in self.fields().iter().zip(WIDTHS) {
            debug_assert!((*x as u64) < 1 << w);
            key = key << w | *x as u64;
        }
        key
    }

    /// The inverse of [`Local::pack`]; `byzantine` says which faults fill
    /// the last six fields.
    pub fn unpack(mut key: u64, byzantine: bool) -> Local {
        let mut f = [0u8; 19];
        for (x, w) in f.iter_mut().zip(WIDTHS).rev() {
            *x = (key & ((1 << w) - 1)) as u8;
            key >>= w;
        }
        let mut out = Local {
            init: f[0],
            delivered: f[1],
            sent: f[2],
            ..Local::default()
        };
        out.count.copy_from_slice(&f[3..7]);
        out.from_correct.copy_from_slice(&f[7..13]);
        if byzantine {
            out.byzantine_used.copy_from_slice(&f[13..19]);
        } else {
            out.from_faulty.copy_from_slice(&f[13..19]);
        }
        out
    }
}

pub fn pack(state: &State) -> Key {
    state.map(|l| l.pack())
}

pub fn unpack(spec: &RbSpec, key: &Key) -> State {
    key.map(|k| Local::unpack(k, spec.faults == RbFaults::Byzantine))
}

/// What an agent did on one change of its view: sent these, delivered that.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Reaction {
    pub sent: u8,
    pub delivered: Option<u8>,
}

/// Agent `a` acts on its view until it stops changing: each send and the
/// delivery change the view (its own messages count at once), and the
/// protocol acts on every change. It ends: each message is sent once and
/// one value delivered once.
pub fn react(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    state: &mut State,
    a: usize,
) -> Reaction {
    let input = if a == SENDER { inst.input } else { None };
    let mut done = Reaction::default();
    loop {
        let me = state[a];
        let d = p.act(spec, &me.view(input));
        // Only the sender may send INIT (channels are authenticated: an INIT
        // from anyone else would be read as not the sender's).
        let allowed = if a == SENDER { 0x3f } else { 0x3c };
        let new = d.sends & allowed & !me.sent;
        let deliver = d.deliver.filter(|_| me.delivered == 0);
        if new == 0 && deliver.is_none() {
            return done;
        }
        if let Some(v) = deliver {
            state[a].delivered = 1 + v;
            done.delivered = Some(v);
        }
        done.sent |= new;
        for m in Msg::all().filter(|m| new & m.bit() != 0) {
            send(spec, inst, state, a, m);
        }
    }
}

/// Agent `a` sends `msg` to every agent: read at once by itself, in flight
/// to every other non-Byzantine agent (Byzantine ones need no copy).
fn send(spec: &RbSpec, inst: &Instance, state: &mut State, a: usize, msg: Msg) {
    state[a].sent |= msg.bit();
    state[a].read(msg);
    for r in (0..spec.n).filter(|&r| r != a && !inst.is_byzantine(spec, r)) {
        let slot = if inst.is_faulty(a) {
            &mut state[r].from_faulty
        } else {
            &mut state[r].from_correct
        };
        slot[msg.index()] += 1;
    }
}

/// The start: every non-Byzantine agent acts on its first view (the
/// sender's holds its input), in id order.
pub fn start(spec: &RbSpec, inst: &Instance, p: &dyn RbProtocol) -> (State, Vec<Reaction>) {
    let mut state = [Local::default(); MAX_N];
    let mut reactions = vec![Reaction::default(); spec.n];
    for a in (0..spec.n).filter(|&a| !inst.is_byzantine(spec, a)) {
        reactions[a] = react(spec, inst, p, &mut state, a);
    }
    (state, reactions)
}

/// Where a delivered message came from, as far as the game tells apart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A correct agent (honest, or not crash-prone): owed to its recipient.
    Correct,
    /// A crash-prone agent: the scheduler may hold it for ever.
    Faulty,
    /// A Byzantine agent, which the adversary speaks for.
    Byzantine,
}

/// One move of the adversary: a message reaches agent `to`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Step {
    pub to: u8,
    pub msg: Msg,
    pub from: Source,
}

/// Every move the adversary may make, in a fixed order: deliveries of
/// messages in flight (per recipient, then message), then Byzantine
/// injections. A Byzantine agent may send each message to each honest
/// agent once (see the module's note); only a Byzantine sender sends INIT,
/// and only while its recipient has read none.
pub fn steps(spec: &RbSpec, inst: &Instance, state: &State) -> Vec<Step> {
    let mut out = vec![];
    let byzantine_sender = inst.is_byzantine(spec, SENDER);
    for r in (0..spec.n).filter(|&r| !inst.is_byzantine(spec, r)) {
        let me = &state[r];
        for m in Msg::all() {
            let i = m.index();
            let step = |from: Source| Step {
                to: r as u8,
                msg: m,
                from,
            };
            if me.from_correct[i] > 0 {
                out.push(step(Source::Correct));
            }
            if me.from_faulty[i] > 0 {
                out.push(step(Source::Faulty));
            }
            if spec.faults == RbFaults::Byzantine {
                let may = match m.kind {
                    Kind::Init => byzantine_sender && me.init == 0,
                    _ => (me.byzantine_used[i] as usize) < spec.f,
                };
                if may {
                    out.push(step(Source::Byzantine));
                }
            }
        }
    }
    out
}

/// Plays one move; what the recipient did in answer.
pub fn apply(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    state: &mut State,
    step: Step,
) -> Reaction {
    let r = step.to as usize;
    let i = step.msg.index();
    let me = &mut state[r];
    match step.from {
        Source::Correct => me.from_correct[i] -= 1,
        Source::Faulty => me.from_faulty[i] -= 1,
        Source::Byzantine => me.byzantine_used[i] += 1,
    }
    if me.read(step.msg) {
        react(spec, inst, p, state, r)
    } else {
        Reaction::default()
    }
}

/// Nothing owed is in flight: no message from a correct agent to a correct
/// agent. Every fair run that stops, stops in such a state, and every such
/// state ends a fair run (the adversary may hold all the rest for ever).
pub fn quiescent(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    inst.correct(spec)
        .all(|r| state[r].from_correct.iter().all(|&c| c == 0))
}

/// A named property of the game: a predicate on a state. A safety property
/// must hold in every reachable state; an eventual one in every quiescent
/// state (the end of a fair run).
pub struct Property {
    pub name: &'static str,
    pub eventual: bool,
    pub holds: fn(&RbSpec, &Instance, &State) -> bool,
}

/// The properties, about the correct agents (all but the faulty ones).
pub const PROPERTIES: &[Property] = &[
    Property {
        name: "validity",
        eventual: true,
        holds: validity,
    },
    Property {
        name: "agreement",
        eventual: false,
        holds: agreement,
    },
    Property {
        name: "integrity",
        eventual: false,
        holds: integrity,
    },
    Property {
        name: "totality",
        eventual: true,
        holds: totality,
    },
];

/// With a correct sender, every correct agent delivers its input (by the
/// end of every fair run).
fn validity(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    if inst.is_faulty(SENDER) {
        return true;
    }
    inst.correct(spec)
        .all(|r| state[r].delivered() == inst.input)
}

/// No two correct agents deliver different values.
fn agreement(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let mut seen = 0u8;
    for r in inst.correct(spec) {
        if let Some(v) = state[r].delivered() {
            seen |= 1 << v;
        }
    }
    seen != 3
}

/// At most once (the rules make a second delivery impossible), and only
/// the sender's input when the sender is not Byzantine (a crash-prone
/// sender's input is still its own).
fn integrity(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let Some(input) = inst.input else {
        return true;
    };
    inst.correct(spec)
        .all(|r| state[r].delivered().is_none_or(|v| v == input))
}

/// If one correct agent delivers, every correct agent does (by the end of
/// every fair run).
fn totality(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let mut delivered = inst.correct(spec).map(|r| state[r].delivered.min(1));
    let first = delivered.next();
    delivered.all(|d| Some(d) == first)
}

/// The properties `state` breaks: safety ones always, eventual ones when
/// the state is quiescent. A bit per entry of [`PROPERTIES`].
pub fn broken(spec: &RbSpec, inst: &Instance, state: &State) -> u8 {
    let quiet = quiescent(spec, inst, state);
    let mut out = 0;
    for (i, p) in PROPERTIES.iter().enumerate() {
        if (quiet || !p.eventual) && !(p.holds)(spec, inst, state) {
            out |= 1 << i;
        }
    }
    out
}
