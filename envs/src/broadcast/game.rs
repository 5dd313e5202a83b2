//! The reliable-broadcast game's rules as pure functions over a typed state
//! (issue 16; the decisions are written down in `docs/reliable_broadcast.md`).
//!
//! Agent 0 is the designated sender and holds the input. Messages are INIT
//! (the sender's only), ECHO and READY, each with a value in {0, 1}, sent
//! over authenticated channels to every agent, to the others only or to
//! itself only. There is no clock: an honest agent acts on every change of
//! its view, choosing which messages to send (each at most once each way)
//! and whether to deliver (at most once; once per value under
//! [`Semantics::PerMessage`]).
//!
//! **An agent counts its own message iff it sent it to itself** (to all,
//! or to itself only), at the moment it sends it: that copy is local and
//! never in flight. So after a send "to all" a count is "distinct agents,
//! myself included", as in the textbook algorithms; after a send to the
//! others only, it is the others'.
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
/// count: at most 7 senders, at most 6 copies in flight from the others).
/// The search gives up sooner (see `search::Limits`).
pub const MAX_N: usize = 7;

/// The designated sender.
pub const SENDER: usize = 0;

/// How an honest agent's rules meet the two values (docs/reliable_broadcast.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// One broadcast instance: an agent reads the sender's first INIT only,
    /// sees both values at once and delivers one value at most once. The
    /// textbook's reliable broadcast.
    #[default]
    Single,
    /// RB-Learner's: every value is a broadcast of its own. An agent keeps
    /// apart, per value, the INIT read, the counts, what it sent and whether
    /// it delivered it, and its protocol acts on each value's part alone (it
    /// sees nothing of the other value); it may deliver both values, each
    /// once, and the properties are those their Promela checker asserts.
    PerMessage,
}

impl Semantics {
    pub fn name(self) -> &'static str {
        match self {
            Semantics::Single => "single",
            Semantics::PerMessage => "per_message",
        }
    }
    pub fn parse(s: &str) -> Option<Semantics> {
        match s {
            "single" => Some(Semantics::Single),
            "per_message" => Some(Semantics::PerMessage),
            _ => None,
        }
    }
}

/// The static game: how many agents, how many faulty, which faults, which
/// semantics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct RbSpec {
    pub n: usize,
    pub f: usize,
    pub faults: RbFaults,
    pub semantics: Semantics,
    /// The values in play, a bit each (both by default). Under PerMessage
    /// the two values are games that never touch (a step moves one
    /// value's messages and changes only that value's part of a record),
    /// so searching one value alone ([`RbSpec::one_value`]) answers that
    /// value's properties exactly, and the whole answer is the union.
    pub values: u8,
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
        Ok(RbSpec {
            n,
            f,
            faults,
            semantics: Semantics::Single,
            values: 3,
        })
    }

    /// The per-message game of value `v` alone: no agent, honest or
    /// Byzantine, sends anything carrying the other value. Only under
    /// PerMessage: under Single the values meet in one record.
    pub fn one_value(self, v: u8) -> RbSpec {
        assert_eq!(
            self.semantics,
            Semantics::PerMessage,
            "values split only per message"
        );
        RbSpec {
            values: 1 << v,
            ..self
        }
    }

    /// The messages carrying a value in play.
    pub fn messages(&self) -> u8 {
        (0..2)
            .filter(|v| self.values >> v & 1 == 1)
            .fold(0, |m, v| m | value_mask(v))
    }

    /// The same game under `semantics` ([`Semantics::Single`] by default).
    pub fn with_semantics(self, semantics: Semantics) -> RbSpec {
        RbSpec { semantics, ..self }
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

/// Every instance, as broadcast mode counts them (`envs::consensus::instances`): each
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

/// What an honest agent acts on: no round, no ids but the sender's. Under
/// [`Semantics::PerMessage`] the game shows one value's part at a time:
/// every field about the other value is empty.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct View {
    /// The input: the sender's only.
    pub input: Option<u8>,
    /// The sender's INIT as first read (the sender reads its own when it
    /// sends it to itself).
    pub init: Option<u8>,
    /// Distinct agents whose ECHO 0, ECHO 1, READY 0, READY 1 reached it
    /// (index `msg.index() - 2`), itself included iff it sent the message
    /// to itself.
    pub count: [u8; 4],
    /// The messages it has sent to the others (a set over message indices).
    pub sent: u8,
    /// The messages it has sent to itself (read at once: never in flight).
    pub to_self: u8,
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
        self.count(msg) - (self.to_self & msg.bit() != 0) as usize
    }

    /// Whether it has sent `msg` to anyone (the others or itself).
    pub fn has_sent(&self, msg: Msg) -> bool {
        (self.sent | self.to_self) & msg.bit() != 0
    }

    /// Whether it has sent any message of `kind`.
    pub fn has_sent_kind(&self, kind: Kind) -> bool {
        self.has_sent(Msg::new(kind, 0)) || self.has_sent(Msg::new(kind, 1))
    }
}

/// What an honest agent does on a view: messages to send (sets; already
/// sent ones and INITs of a non-sender are ignored) and a value to deliver
/// (ignored once it has delivered). A message goes to every agent
/// (`sends`), to the others only (`neighbours`) or to itself only
/// (`myself`): RB-Learner's SendAll, SendNeighbors and SendMyself.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Decision {
    pub sends: u8,
    pub neighbours: u8,
    pub myself: u8,
    pub deliver: Option<u8>,
}

impl Decision {
    /// To every agent, itself included.
    pub fn send(mut self, msg: Msg) -> Decision {
        self.sends |= msg.bit();
        self
    }
    /// To every other agent.
    pub fn send_neighbours(mut self, msg: Msg) -> Decision {
        self.neighbours |= msg.bit();
        self
    }
    /// To itself only.
    pub fn send_myself(mut self, msg: Msg) -> Decision {
        self.myself |= msg.bit();
        self
    }
    pub fn deliver(mut self, v: u8) -> Decision {
        self.deliver = Some(v);
        self
    }
    /// The messages going to the others.
    pub fn wire(&self) -> u8 {
        self.sends | self.neighbours
    }
    /// The messages going to itself.
    pub fn own(&self) -> u8 {
        self.sends | self.myself
    }
}

/// The messages carrying value `v` (INIT v, ECHO v, READY v).
pub const fn value_mask(v: u8) -> u8 {
    0b01_0101 << v
}

/// One agent's record: its view, and what is in flight to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Local {
    /// The values of the sender's INITs read, a bit per value: the first
    /// one only under [`Semantics::Single`], each under PerMessage.
    pub init: u8,
    pub count: [u8; 4],
    /// The messages it sent to the others.
    pub sent: u8,
    /// The messages it sent to itself.
    pub to_self: u8,
    /// The values delivered, a bit per value (one at most under Single).
    pub delivered: u8,
    /// Per message: copies in flight to it from correct agents.
    pub from_correct: [u8; MSGS],
    /// Per message: copies in flight to it from crash-prone agents (crash
    /// faults; never owed).
    pub from_faulty: [u8; MSGS],
    /// Per message: Byzantine agents whose copy already reached it.
    pub byzantine_used: [u8; MSGS],
}

/// The lowest value in a set of values (bit `v` for value `v`).
fn first(set: u8) -> Option<u8> {
    (set != 0).then(|| set.trailing_zeros() as u8)
}

impl Local {
    /// The value delivered (the lower one if both, under PerMessage).
    pub fn delivered(&self) -> Option<u8> {
        first(self.delivered)
    }

    /// The whole record as one view (the Single semantics' view).
    pub fn view(&self, input: Option<u8>) -> View {
        View {
            input,
            init: first(self.init),
            count: self.count,
            sent: self.sent,
            to_self: self.to_self,
            delivered: self.delivered(),
        }
    }

    /// Value `v`'s part of the record (the PerMessage semantics' view):
    /// nothing about the other value shows.
    pub fn view_of(&self, v: u8, input: Option<u8>) -> View {
        let mask = value_mask(v);
        let mut count = self.count;
        count[1 - v as usize] = 0;
        count[3 - v as usize] = 0;
        View {
            input: input.filter(|&x| x == v),
            init: (self.init >> v & 1 == 1).then_some(v),
            count,
            sent: self.sent & mask,
            to_self: self.to_self & mask,
            delivered: (self.delivered >> v & 1 == 1).then_some(v),
        }
    }

    /// Reads `msg` (one more distinct sender); whether its view changed.
    /// Under Single only the first INIT is read (a Byzantine sender's
    /// second one is ignored, as in Bracha's "the first time"); under
    /// PerMessage each value's INIT is read once.
    pub fn read(&mut self, semantics: Semantics, msg: Msg) -> bool {
        match msg.kind {
            Kind::Init => {
                let fresh = match semantics {
                    Semantics::Single => self.init == 0,
                    Semantics::PerMessage => self.init >> msg.value & 1 == 0,
                };
                if fresh {
                    self.init |= 1 << msg.value;
                }
                fresh
            }
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

/// The bit widths of a packed record: init, delivered, sent, to itself,
/// the four counts, then per message the copies from correct agents and
/// the copies from faulty ones (from crash-prone agents under crashes,
/// Byzantine injections made under Byzantine faults: never both in one
/// game). 2 + 2 + 6 + 6 + 4 * 3 + 6 * 3 + 6 * 3 = 64 bits.
const WIDTHS: [u32; FIELDS] = [2, 2, 6, 6, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
const FIELDS: usize = 20;

impl Local {
    /// The record in 64 bits (every field fits its width when n <= MAX_N).
    pub fn pack(&self) -> u64 {
        // Field by field, not through `fields`: the search packs every
        // record of every successor, and the array costs a twentieth of it.
        let mut key = 0u64;
        let mut put = |x: u8, w: u32| {
            debug_assert!((x as u64) < 1 << w);
            key = key << w | x as u64;
        };
        put(self.init, WIDTHS[0]);
        put(self.delivered, WIDTHS[1]);
        put(self.sent, WIDTHS[2]);
        put(self.to_self, WIDTHS[3]);
        for c in self.count {
            put(c, 3);
        }
        for c in self.from_correct {
            put(c, 3);
        }
        for (f, b) in self.from_faulty.iter().zip(&self.byzantine_used) {
            put(f | b, 3);
        }
        key
    }

    /// The inverse of [`Local::pack`]; `byzantine` says which faults fill
    /// the last six fields.
    pub fn unpack(key: u64, byzantine: bool) -> Local {
        // Field by field, from the top bit down as `pack` put them: the
        // search unpacks every state it expands.
        let field = |shift: u32, w: u32| (key >> shift & ((1 << w) - 1)) as u8;
        fn threes<const K: usize>(key: u64, top: u32) -> [u8; K] {
            std::array::from_fn(|i| (key >> (top - 3 * i as u32) & 7) as u8)
        }
        let last: [u8; MSGS] = threes(key, 15);
        let none = [0; MSGS];
        Local {
            init: field(62, WIDTHS[0]),
            delivered: field(60, WIDTHS[1]),
            sent: field(54, WIDTHS[2]),
            to_self: field(48, WIDTHS[3]),
            count: threes(key, 45),
            from_correct: threes(key, 33),
            from_faulty: if byzantine { none } else { last },
            byzantine_used: if byzantine { last } else { none },
        }
    }
}

pub fn pack(state: &State) -> Key {
    state.map(|l| l.pack())
}

pub fn unpack(spec: &RbSpec, key: &Key) -> State {
    key.map(|k| Local::unpack(k, spec.faults == RbFaults::Byzantine))
}

/// What an agent did on one change of its view: sent these to the others
/// and these to itself, delivered these values (a bit per value).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Reaction {
    pub sent: u8,
    pub to_self: u8,
    pub delivered: u8,
}

/// What agent `a`'s protocol asks for on its record, minus what it has
/// already done: (to the others, to itself, values to deliver). Under
/// PerMessage the protocol is asked once per value, on that value's part,
/// and only that value's messages and delivery are taken from its answer.
pub fn wanted(
    spec: &RbSpec,
    p: &dyn RbProtocol,
    me: &Local,
    a: usize,
    input: Option<u8>,
) -> Reaction {
    let mut out = Reaction::default();
    match spec.semantics {
        Semantics::Single => {
            let d = p.act(spec, &me.view(input));
            out.sent = d.wire();
            out.to_self = d.own();
            if me.delivered == 0 {
                out.delivered = d.deliver.map_or(0, |v| 1 << v);
            }
        }
        Semantics::PerMessage => {
            for v in (0..2).filter(|v| spec.values >> v & 1 == 1) {
                let d = p.act(spec, &me.view_of(v, input));
                out.sent |= d.wire() & value_mask(v);
                out.to_self |= d.own() & value_mask(v);
                if d.deliver == Some(v) {
                    out.delivered |= 1 << v & !me.delivered;
                }
            }
        }
    }
    // Only the sender may send INIT (channels are authenticated: an INIT
    // from anyone else would be read as not the sender's).
    let allowed = (if a == SENDER { 0x3f } else { 0x3c }) & spec.messages();
    out.sent &= allowed & !me.sent;
    out.to_self &= allowed & !me.to_self;
    out
}

/// Agent `a` acts on its view until it stops changing: each send to
/// itself and each delivery change the view (its own messages count at
/// once), and the protocol acts on every change. It ends: each message is
/// sent once each way and each value delivered once.
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
        let new = wanted(spec, p, &state[a], a, input);
        if new == Reaction::default() {
            return done;
        }
        state[a].delivered |= new.delivered;
        done.delivered |= new.delivered;
        done.sent |= new.sent;
        done.to_self |= new.to_self;
        for m in Msg::all().filter(|m| new.sent & m.bit() != 0) {
            send(spec, inst, state, a, m);
        }
        for m in Msg::all().filter(|m| new.to_self & m.bit() != 0) {
            state[a].to_self |= m.bit();
            state[a].read(spec.semantics, m);
        }
    }
}

/// Agent `a` sends `msg` to every other agent: in flight to every other
/// non-Byzantine agent (Byzantine ones need no copy).
fn send(spec: &RbSpec, inst: &Instance, state: &mut State, a: usize, msg: Msg) {
    state[a].sent |= msg.bit();
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
/// and only while its recipient would read it (none read yet under Single,
/// none of that value under PerMessage).
pub fn steps(spec: &RbSpec, inst: &Instance, state: &State) -> Vec<Step> {
    let mut out = vec![];
    steps_into(spec, inst, state, &mut out);
    out
}

/// [`steps`] into `out`, emptied first: the search expands every state it
/// visits and reuses one buffer rather than allocate one a state.
pub fn steps_into(spec: &RbSpec, inst: &Instance, state: &State, out: &mut Vec<Step>) {
    out.clear();
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
            if spec.faults == RbFaults::Byzantine && spec.messages() & m.bit() != 0 {
                let may = match m.kind {
                    Kind::Init => {
                        byzantine_sender
                            && match spec.semantics {
                                Semantics::Single => me.init == 0,
                                Semantics::PerMessage => me.init >> m.value & 1 == 0,
                            }
                    }
                    _ => (me.byzantine_used[i] as usize) < spec.f,
                };
                if may {
                    out.push(step(Source::Byzantine));
                }
            }
        }
    }
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
    if me.read(spec.semantics, step.msg) {
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

/// A named property of the game: a predicate on a state, under the
/// semantics it belongs to. A safety property must hold in every reachable
/// state; an eventual one in every quiescent state (the end of a fair run).
pub struct Property {
    pub name: &'static str,
    pub eventual: bool,
    /// The semantics that assert it.
    pub semantics: &'static [Semantics],
    pub holds: fn(&RbSpec, &Instance, &State) -> bool,
}

const SINGLE: &[Semantics] = &[Semantics::Single];
const PER_MESSAGE: &[Semantics] = &[Semantics::PerMessage];
const BOTH: &[Semantics] = &[Semantics::Single, Semantics::PerMessage];

/// Every property of either semantics, about the correct agents (all but
/// the faulty ones); a report names broken ones in this order. A new
/// property is one more entry.
pub const PROPERTIES: &[Property] = &[
    Property {
        name: "validity",
        eventual: true,
        semantics: SINGLE,
        holds: validity,
    },
    Property {
        name: "agreement",
        eventual: false,
        semantics: SINGLE,
        holds: agreement,
    },
    Property {
        name: "integrity",
        eventual: false,
        semantics: BOTH,
        holds: integrity,
    },
    Property {
        name: "totality",
        eventual: true,
        semantics: SINGLE,
        holds: totality,
    },
    Property {
        name: "sender_validity",
        eventual: true,
        semantics: PER_MESSAGE,
        holds: sender_validity,
    },
    Property {
        name: "message_totality",
        eventual: true,
        semantics: PER_MESSAGE,
        holds: message_totality,
    },
];

/// The names of the properties `semantics` asserts, in [`PROPERTIES`] order.
pub fn property_names(semantics: Semantics) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .filter(|p| p.semantics.contains(&semantics))
        .map(|p| p.name)
        .collect()
}

/// With a correct sender, every correct agent delivers its input (by the
/// end of every fair run).
fn validity(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let Some(input) = inst.input.filter(|_| !inst.is_faulty(SENDER)) else {
        return true;
    };
    inst.correct(spec).all(|r| state[r].delivered == 1 << input)
}

/// No two correct agents deliver different values.
fn agreement(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let seen = inst.correct(spec).fold(0, |s, r| s | state[r].delivered);
    seen != 3
}

/// At most once (the rules keep one flag per value, so a second delivery
/// of a value is impossible, and under Single one value at most), and only
/// the sender's input when the sender is not Byzantine (a crash-prone
/// sender's input is still its own). RB-Learner's INTEGRITY: no
/// duplication, no creation.
fn integrity(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let Some(input) = inst.input else {
        return true;
    };
    inst.correct(spec)
        .all(|r| state[r].delivered & !(1 << input) == 0)
}

/// If one correct agent delivers, every correct agent does (by the end of
/// every fair run).
fn totality(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let mut delivered = inst.correct(spec).map(|r| state[r].delivered.min(1));
    let first = delivered.next();
    delivered.all(|d| Some(d) == first)
}

/// RB-Learner's VALIDITY: a correct sender delivers its own input (by the
/// end of every fair run). Only the sender: the others are held to it by
/// [`message_totality`].
fn sender_validity(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    match inst.input {
        Some(input) if !inst.is_faulty(SENDER) && spec.values >> input & 1 == 1 => {
            state[SENDER].delivered >> input & 1 == 1
        }
        _ => true,
    }
}

/// RB-Learner's AGREEMENT, which is totality per value: every value one
/// correct agent delivers, every correct agent delivers (by the end of
/// every fair run). Two values may both be delivered.
fn message_totality(spec: &RbSpec, inst: &Instance, state: &State) -> bool {
    let some = inst.correct(spec).fold(0, |s, r| s | state[r].delivered);
    let all = inst.correct(spec).fold(3, |s, r| s & state[r].delivered);
    some == all
}

/// The properties `state` breaks among those of the spec's semantics:
/// safety ones always, eventual ones when the state is quiescent. A bit
/// per entry of [`PROPERTIES`].
pub fn broken(spec: &RbSpec, inst: &Instance, state: &State) -> u8 {
    let quiet = quiescent(spec, inst, state);
    let mut out = 0;
    for (i, p) in PROPERTIES.iter().enumerate() {
        if !p.semantics.contains(&spec.semantics) {
            continue;
        }
        if (quiet || !p.eventual) && !(p.holds)(spec, inst, state) {
            out |= 1 << i;
        }
    }
    out
}
