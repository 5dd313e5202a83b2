//! RB-Learner's program grammar (Vaz, Matos, Pardal and Correia), every
//! program of it in a fixed order, and each program as an [`RbProtocol`] so
//! the verifier checks it unchanged. Read from their code; the mapping and
//! its sources are in `docs/reliable_broadcast.md`.
//!
//! A program has two handlers, for the message `m` being broadcast:
//! - `when RB-Broadcast(m)` (the sender only, once): one instruction;
//! - `when receive(<t, m>)`: one to three instructions, run on every
//!   message received that carries `m`.
//!
//! An instruction is an action under a guard. Actions: SendAll(t),
//! SendNeighbors(t), SendMyself(t) (to every agent, to the others, to
//! itself) and Deliver. Message types: type0 is our INIT, type1 our ECHO
//! (their generator is configured with two types). Guards: True, or
//! "received <t', m> from at least tau distinct processes", tau in 1, F+1,
//! (N+F)/2 (rounded up, as their `math.ceil`) and N-F; a process counts
//! its own message iff it sent it to itself.
//!
//! Their pruning, as their `GenerationHeuristics.py` and configuration
//! apply it: H1 no instruction twice; H2 the start event does not deliver;
//! H3 start guards are True; H4 one send per (type, guard) in a handler;
//! H5 the start sends type0 only, receive handlers never type0; H6 the
//! start has exactly 1 instruction, the receive handler 1 to 3; H7 a guard
//! names only a type already sent earlier in the program; H8 some
//! instruction delivers.

use super::game::RbProtocol;
use super::game::{Decision, Msg, RbSpec, View};
use std::fmt;

/// Where a send goes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Dest {
    All,
    Neighbours,
    Myself,
}

/// Their message types: type0 is our INIT, type1 our ECHO.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum MsgType {
    Type0,
    Type1,
}

/// A guard's threshold.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Tau {
    One,
    FPlus1,
    NPlusFHalf,
    NMinusF,
}

impl Tau {
    pub const ALL: [Tau; 4] = [Tau::One, Tau::FPlus1, Tau::NPlusFHalf, Tau::NMinusF];

    /// The number at (n, f); (N+F)/2 rounded up, as their validator does.
    pub fn at(self, spec: &RbSpec) -> usize {
        match self {
            Tau::One => 1,
            Tau::FPlus1 => spec.f + 1,
            Tau::NPlusFHalf => (spec.n + spec.f).div_ceil(2),
            Tau::NMinusF => spec.n - spec.f,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tau::One => "1",
            Tau::FPlus1 => "F+1",
            Tau::NPlusFHalf => "(N+F)/2",
            Tau::NMinusF => "N-F",
        }
    }

    /// RB-Learner's reward for the threshold.
    fn reward(self) -> i32 {
        match self {
            Tau::One => -1,
            Tau::FPlus1 => -2,
            Tau::NPlusFHalf => -3,
            Tau::NMinusF => -4,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Guard {
    True,
    AtLeast(MsgType, Tau),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Action {
    Send(Dest, MsgType),
    Deliver,
}

/// A guarded instruction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Instr {
    pub action: Action,
    pub guard: Guard,
}

/// A program: the start instruction and the receive handler.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Program {
    pub start: Instr,
    pub receive: Vec<Instr>,
}

/// What one value's part of a view holds that a guard reads: whether the
/// sender's type0 was read, and how many distinct agents' type1.
#[derive(Clone, Copy)]
struct Seen {
    type0: usize,
    type1: usize,
}

impl Guard {
    fn holds(self, spec: &RbSpec, seen: Seen) -> bool {
        match self {
            // A receive handler runs on a message received: True holds once
            // anything of this value has arrived.
            Guard::True => seen.type0 + seen.type1 > 0,
            Guard::AtLeast(MsgType::Type0, t) => seen.type0 >= t.at(spec),
            Guard::AtLeast(MsgType::Type1, t) => seen.type1 >= t.at(spec),
        }
    }

    fn reward(self) -> i32 {
        match self {
            Guard::True => 0,
            Guard::AtLeast(_, t) => t.reward(),
        }
    }
}

impl Program {
    /// What the program does for value `v` on `view` (the handlers for the
    /// message carrying `v`).
    fn act_on(&self, spec: &RbSpec, view: &View, v: u8, mut d: Decision) -> Decision {
        if view.input == Some(v) {
            d = apply(d, self.start.action, v);
        }
        let seen = Seen {
            type0: (view.init == Some(v)) as usize,
            type1: view.count(Msg::echo(v)),
        };
        for i in &self.receive {
            if i.guard.holds(spec, seen) {
                d = apply(d, i.action, v);
            }
        }
        d
    }

    /// RB-Learner's reward: per instruction its action's and its guard's,
    /// and -1 per send for the message type (their configuration's
    /// `Rewards`; higher is cheaper).
    pub fn rbl_reward(&self) -> i32 {
        std::iter::once(&self.start)
            .chain(&self.receive)
            .map(|i| {
                let action = match i.action {
                    Action::Send(Dest::Myself, _) => -2 - 1,
                    Action::Send(Dest::Neighbours, _) => -5 - 1,
                    Action::Send(Dest::All, _) => -6 - 1,
                    Action::Deliver => -1,
                };
                action + i.guard.reward()
            })
            .sum()
    }

    /// Whether their generator's action space holds it: it pairs each send
    /// of type t with guards on type t (or True) only.
    pub fn in_their_action_space(&self) -> bool {
        self.receive.iter().all(|i| match (i.action, i.guard) {
            (Action::Send(_, t), Guard::AtLeast(u, _)) => t == u,
            _ => true,
        })
    }
}

fn apply(d: Decision, action: Action, v: u8) -> Decision {
    let msg = |t: MsgType| match t {
        MsgType::Type0 => Msg::init(v),
        MsgType::Type1 => Msg::echo(v),
    };
    match action {
        Action::Send(Dest::All, t) => d.send(msg(t)),
        Action::Send(Dest::Neighbours, t) => d.send_neighbours(msg(t)),
        Action::Send(Dest::Myself, t) => d.send_myself(msg(t)),
        // Under the single semantics the first value whose guard holds is
        // delivered (a guard turns true on one arrival, so two never do at
        // once for a monotone program like these).
        Action::Deliver if d.deliver.is_none() => d.deliver(v),
        Action::Deliver => d,
    }
}

impl RbProtocol for Program {
    fn name(&self) -> String {
        self.to_string()
    }

    /// Both values' handlers on the view (under the per-message semantics
    /// the view shows one value only, so the other's guards stay false).
    fn act(&self, spec: &RbSpec, view: &View) -> Decision {
        (0..2).fold(Decision::default(), |d, v| self.act_on(spec, view, v, d))
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let t = |t: MsgType| match t {
            MsgType::Type0 => "type0",
            MsgType::Type1 => "type1",
        };
        match self.action {
            Action::Send(Dest::All, m) => write!(f, "SendAll({})", t(m))?,
            Action::Send(Dest::Neighbours, m) => write!(f, "SendNeighbors({})", t(m))?,
            Action::Send(Dest::Myself, m) => write!(f, "SendMyself({})", t(m))?,
            Action::Deliver => write!(f, "Deliver")?,
        }
        match self.guard {
            Guard::True => Ok(()),
            Guard::AtLeast(m, tau) => write!(f, " if <{}, m> from {}", t(m), tau.name()),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "on RB-Broadcast(m): {}; on receive(<t, m>): ",
            self.start
        )?;
        let r: Vec<String> = self.receive.iter().map(|i| i.to_string()).collect();
        write!(f, "{}", r.join("; "))
    }
}

/// The receive handler's alphabet, in enumeration order: per guard (True,
/// then type0 and type1 at each tau), the actions SendAll, SendNeighbors,
/// SendMyself (of type1: H5) and Deliver.
fn receive_alphabet() -> Vec<Instr> {
    let mut guards = vec![Guard::True];
    for t in [MsgType::Type0, MsgType::Type1] {
        guards.extend(Tau::ALL.map(|tau| Guard::AtLeast(t, tau)));
    }
    let mut out = vec![];
    for guard in guards {
        for action in [
            Action::Send(Dest::All, MsgType::Type1),
            Action::Send(Dest::Neighbours, MsgType::Type1),
            Action::Send(Dest::Myself, MsgType::Type1),
            Action::Deliver,
        ] {
            out.push(Instr { action, guard });
        }
    }
    out
}

/// The start handler's choices (H2, H3, H5, H6): one send of type0, True.
fn start_alphabet() -> Vec<Instr> {
    [Dest::All, Dest::Neighbours, Dest::Myself]
        .map(|d| Instr {
            action: Action::Send(d, MsgType::Type0),
            guard: Guard::True,
        })
        .to_vec()
}

/// Whether `next` may follow `so_far` in the receive handler (H1, H4, H7).
fn may_follow(so_far: &[Instr], next: Instr) -> bool {
    if so_far.contains(&next) {
        return false; // H1
    }
    if let Action::Send(_, t) = next.action {
        let same =
            |i: &Instr| matches!(i.action, Action::Send(_, u) if u == t) && i.guard == next.guard;
        if so_far.iter().any(same) {
            return false; // H4
        }
    }
    // H7: type0 is sent by the start; type1 only by an earlier instruction.
    match next.guard {
        Guard::AtLeast(MsgType::Type1, _) => so_far
            .iter()
            .any(|i| matches!(i.action, Action::Send(_, MsgType::Type1))),
        _ => true,
    }
}

/// Every program of the grammar, in enumeration order: by start
/// instruction, then receive handlers depth first (a handler before its
/// extensions, instructions in alphabet order), kept when some
/// instruction delivers (H8).
pub fn enumerate() -> Vec<Program> {
    let alphabet = receive_alphabet();
    let mut out = vec![];
    for start in start_alphabet() {
        let mut handler = vec![];
        extend(&alphabet, &start, &mut handler, &mut out);
    }
    out
}

const MAX_RECEIVE: usize = 3;

fn extend(alphabet: &[Instr], start: &Instr, handler: &mut Vec<Instr>, out: &mut Vec<Program>) {
    for &i in alphabet {
        if !may_follow(handler, i) {
            continue;
        }
        handler.push(i);
        if handler.iter().any(|i| i.action == Action::Deliver) {
            out.push(Program {
                start: *start,
                receive: handler.clone(),
            });
        }
        if handler.len() < MAX_RECEIVE {
            extend(alphabet, start, handler, out);
        }
        handler.pop();
    }
}

/// What a program does as a function of what it has seen, at (n, f): the
/// start's destination and, per target (type1 to the others, type1 to
/// itself, delivery), the set of (type0 read, type1 count) at which some
/// instruction fires, a bit per pair. Programs with one key act alike on
/// every view (a decision is read off these tables alone: see
/// `Program::act`), so they are one protocol: verifying one answers all.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Behaviour {
    pub start: Dest,
    pub wire: u16,
    pub own: u16,
    pub deliver: u16,
}

pub fn behaviour(spec: &RbSpec, p: &Program) -> Behaviour {
    let Action::Send(start, _) = p.start.action else {
        unreachable!("H2: the start sends")
    };
    let mut b = Behaviour {
        start,
        wire: 0,
        own: 0,
        deliver: 0,
    };
    for type0 in 0..2 {
        for type1 in 0..=spec.n {
            let bit = 1 << (type0 * (spec.n + 1) + type1);
            for i in &p.receive {
                if !i.guard.holds(spec, Seen { type0, type1 }) {
                    continue;
                }
                match i.action {
                    Action::Send(Dest::All, _) => {
                        b.wire |= bit;
                        b.own |= bit
                    }
                    Action::Send(Dest::Neighbours, _) => b.wire |= bit,
                    Action::Send(Dest::Myself, _) => b.own |= bit,
                    Action::Deliver => b.deliver |= bit,
                }
            }
        }
    }
    b
}
