//! A protocol's threshold form (issue 28): what a threshold-guarded
//! protocol does, as rules a threshold automaton can be built from.
//!
//! A rule is an action under a guard. The guard is a conjunction of atoms,
//! each monotone (true once, true for ever, as counts only grow and only the
//! first INIT is read): the agent's input is v, the sender's INIT v was read,
//! or "ECHO/READY v from at least T distinct agents", T linear in n and t
//! (the protocol's bound on faults; the game's `f`). The action sends a
//! message (to all, to the others, to itself) or delivers a value. A
//! disjunction is two rules with one action.
//!
//! The rules decide as the game asks a protocol: on a view, every rule whose
//! guard holds fires, in order; a kind named in [`ThresholdForm::once`] is
//! sent at most once (of either value, the first rule wins), and one value
//! is delivered, the first. [`ThresholdForm::decide`] is that reading, and
//! [`disagreement`] compares it with a protocol's code on every view
//! (`protocols::threshold_form` holds the scripted protocols' rules; a test
//! runs it at n = 4 to 7).
//!
//! A learned protocol's rules (the threshold view's `explain`, for either
//! value v) are this form instantiated at v = 0 and v = 1.

use super::game::RbProtocol;
use super::game::{Decision, Kind, Msg, RbSpec, View};
use super::grammar::Dest;
use serde::Serialize;
use std::fmt;

/// A threshold linear in n and t: a count `x` reaches it when
/// `div * x >= n * N + t * T + c`, that is `x >= ceil((n N + t T + c) / div)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Threshold {
    pub n: i64,
    pub t: i64,
    pub c: i64,
    pub div: i64,
}

impl Threshold {
    /// 1: anything heard.
    pub const ONE: Threshold = Threshold::new(0, 0, 1, 1);
    /// t + 1: at least one correct agent among them.
    pub const T_PLUS_1: Threshold = Threshold::new(0, 1, 1, 1);
    /// 2t + 1.
    pub const TWO_T_PLUS_1: Threshold = Threshold::new(0, 2, 1, 1);
    /// More than (n + t) / 2: ceil((n + t + 1) / 2), Bracha's ECHO quorum.
    pub const MORE_THAN_HALF: Threshold = Threshold::new(1, 1, 1, 2);
    /// ceil((n + t) / 2), RB-Learner's (N+F)/2.
    pub const HALF_UP: Threshold = Threshold::new(1, 1, 0, 2);
    /// n - t.
    pub const N_MINUS_T: Threshold = Threshold::new(1, -1, 0, 1);
    /// n - 2t.
    pub const N_MINUS_2T: Threshold = Threshold::new(1, -2, 0, 1);

    pub const fn new(n: i64, t: i64, c: i64, div: i64) -> Threshold {
        Threshold { n, t, c, div }
    }

    /// Whether `count` reaches it at (n, t).
    pub fn reached(self, count: usize, n: usize, t: usize) -> bool {
        self.div * count as i64 >= self.n * n as i64 + self.t * t as i64 + self.c
    }

    /// The right-hand side over ByMC's parameters `N` and `T`.
    pub fn rhs(self) -> String {
        linear(&[(self.n, "N"), (self.t, "T")], self.c)
    }
}

/// `a N + b T + c` as ByMC writes it: `N - 2 * T + 1`, `0` when empty.
pub fn linear(terms: &[(i64, &str)], c: i64) -> String {
    let mut out = String::new();
    for &(k, name) in terms.iter().filter(|(k, _)| *k != 0) {
        let sign = if k < 0 { "-" } else { "+" };
        let term = match k.abs() {
            1 => name.to_string(),
            a => format!("{a} * {name}"),
        };
        if out.is_empty() {
            out = if k < 0 { format!("-{term}") } else { term };
        } else {
            out = format!("{out} {sign} {term}");
        }
    }
    match (out.is_empty(), c) {
        (true, c) => c.to_string(),
        (false, 0) => out,
        (false, c) if c < 0 => format!("{out} - {}", -c),
        (false, c) => format!("{out} + {c}"),
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let rhs = linear(&[(self.n, "n"), (self.t, "t")], self.c);
        match self.div {
            1 => write!(f, "{rhs}"),
            d => write!(f, "ceil(({rhs}) / {d})"),
        }
    }
}

/// One conjunct of a guard; each is monotone.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum Atom {
    /// The agent's input is v (the sender only).
    Input(u8),
    /// The sender's INIT v was read (the first INIT).
    Init(u8),
    /// ECHO or READY v from at least this many distinct agents (itself
    /// included iff it sent the message to itself).
    AtLeast(Msg, Threshold),
}

/// What a rule does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Act {
    Send(Msg, Dest),
    Deliver(u8),
}

/// An action under a conjunction of atoms.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rule {
    pub when: Vec<Atom>,
    pub then: Act,
}

impl Rule {
    pub fn new(when: &[Atom], then: Act) -> Rule {
        Rule {
            when: when.to_vec(),
            then,
        }
    }
}

/// A protocol as threshold rules.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ThresholdForm {
    pub rules: Vec<Rule>,
    /// Kinds an agent sends once, of one value only (Bracha's one ECHO and
    /// one READY): a rule sending such a kind fires only while the agent
    /// has sent none of it, and the first such rule that holds wins.
    pub once: Vec<Kind>,
}

/// A threshold form plays as the protocol its rules decide.
impl RbProtocol for ThresholdForm {
    fn name(&self) -> String {
        "threshold_form".into()
    }
    fn act(&self, spec: &RbSpec, view: &View) -> Decision {
        self.decide(spec, view)
    }
}

impl Atom {
    pub fn holds(self, spec: &RbSpec, view: &View) -> bool {
        match self {
            Atom::Input(v) => view.input == Some(v),
            Atom::Init(v) => view.init == Some(v),
            Atom::AtLeast(m, t) => t.reached(view.count(m), spec.n, spec.f),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Atom::Input(v) => write!(f, "input {v}"),
            Atom::Init(v) => write!(f, "INIT {v} read"),
            Atom::AtLeast(m, t) => write!(f, "{} >= {t}", m.name()),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let when: Vec<String> = self.when.iter().map(|a| a.to_string()).collect();
        let when = if when.is_empty() {
            "always".to_string()
        } else {
            when.join(" and ")
        };
        match self.then {
            Act::Send(m, d) => {
                let to = match d {
                    Dest::All => "all",
                    Dest::Neighbours => "the others",
                    Dest::Myself => "itself",
                };
                write!(f, "on {when}: send {} to {to}", m.name())
            }
            Act::Deliver(v) => write!(f, "on {when}: deliver {v}"),
        }
    }
}

impl ThresholdForm {
    /// The decision the rules take on `view` at (n, t = spec.f).
    pub fn decide(&self, spec: &RbSpec, view: &View) -> Decision {
        let mut d = Decision::default();
        for r in &self.rules {
            if !r.when.iter().all(|a| a.holds(spec, view)) {
                continue;
            }
            match r.then {
                Act::Send(m, dest) => {
                    if self.once.contains(&m.kind) {
                        let other = Msg::new(m.kind, 1 - m.value).bit();
                        let chosen = (d.sends | d.neighbours | d.myself) & other != 0;
                        if view.has_sent_kind(m.kind) || chosen {
                            continue;
                        }
                    }
                    d = match dest {
                        Dest::All => d.send(m),
                        Dest::Neighbours => d.send_neighbours(m),
                        Dest::Myself => d.send_myself(m),
                    };
                }
                Act::Deliver(v) => {
                    if d.deliver.is_none() {
                        d = d.deliver(v);
                    }
                }
            }
        }
        d
    }

    /// The messages the rules send (INIT, ECHO, READY of each value), a
    /// bit per message.
    pub fn messages(&self) -> u8 {
        self.rules.iter().fold(0, |m, r| match r.then {
            Act::Send(msg, _) => m | msg.bit(),
            Act::Deliver(_) => m,
        })
    }
}

/// What a decision changes on `view`, as the game takes it (`game::wanted`):
/// new messages to the others, new to itself (INIT the sender's only), and
/// a delivery when none was made.
pub fn effect(view: &View, d: &Decision) -> (u8, u8, Option<u8>) {
    let allowed = if view.input.is_some() { 0x3f } else { 0x3c };
    (
        d.wire() & allowed & !view.sent,
        d.own() & allowed & !view.to_self,
        d.deliver.filter(|_| view.delivered.is_none()),
    )
}

/// Every view an agent may hold at (n, f) under the single semantics, as
/// far as a protocol's decision can tell: input (none, 0, 1); the INIT
/// read (a non-sender: none, 0 or 1; the sender: its own, iff it sent INIT
/// to itself, and INIT sent to the others or not); the four counts up to n
/// (at least 1 for a message sent to itself); the ECHO and READY sent to
/// the others and to itself; the delivery. Calls `each` on every one.
pub fn each_view(spec: &RbSpec, mut each: impl FnMut(&View)) {
    let n = spec.n as u8;
    for input in [None, Some(0), Some(1)] {
        // (INIT read, INIT sent to the others, INIT sent to itself).
        let inits: Vec<(Option<u8>, u8, u8)> = match input {
            None => vec![(None, 0, 0), (Some(0), 0, 0), (Some(1), 0, 0)],
            Some(v) => {
                let b = Msg::init(v).bit();
                vec![(None, 0, 0), (None, b, 0), (Some(v), 0, b), (Some(v), b, b)]
            }
        };
        for &(init, init_wire, init_self) in &inits {
            for wire in 0..16u8 {
                for own in 0..16u8 {
                    for delivered in [None, Some(0), Some(1)] {
                        let mut view = View {
                            input,
                            init,
                            count: [0; 4],
                            sent: wire << 2 | init_wire,
                            to_self: own << 2 | init_self,
                            delivered,
                        };
                        counts(n, own, 0, &mut view, &mut each);
                    }
                }
            }
        }
    }
}

fn counts(n: u8, own: u8, i: usize, view: &mut View, each: &mut impl FnMut(&View)) {
    if i == 4 {
        each(view);
        return;
    }
    for c in (own >> i & 1)..=n {
        view.count[i] = c;
        counts(n, own, i + 1, view, each);
    }
}

/// The first view (in [`each_view`]'s order) on which the rules and the
/// protocol's code change the view differently, with both decisions; none
/// when they agree on every view at (n, f).
pub fn disagreement(
    spec: &RbSpec,
    form: &ThresholdForm,
    p: &dyn RbProtocol,
) -> Option<(View, Decision, Decision)> {
    let mut found = None;
    each_view(spec, |view| {
        if found.is_some() {
            return;
        }
        let rules = form.decide(spec, view);
        let code = p.act(spec, view);
        if effect(view, &rules) != effect(view, &code) {
            found = Some((*view, rules, code));
        }
    });
    found
}

/// A program of RB-Learner's grammar as threshold rules, when it is one:
/// its guards on type1 are thresholds, True is "INIT read or one ECHO",
/// and a guard on type0 (the sender's INIT, 0 or 1 of it) must be at 1
/// ("INIT read"); at F+1 and above it depends on t = 0 and is refused.
pub fn of_program(p: &super::grammar::Program) -> Option<ThresholdForm> {
    use super::grammar::{Action, Guard, MsgType, Tau};
    let tau = |t: Tau| match t {
        Tau::One => Threshold::ONE,
        Tau::FPlus1 => Threshold::T_PLUS_1,
        Tau::NPlusFHalf => Threshold::HALF_UP,
        Tau::NMinusF => Threshold::N_MINUS_T,
    };
    let mut rules = vec![];
    for v in 0..2 {
        let msg = |t: MsgType| match t {
            MsgType::Type0 => Msg::init(v),
            MsgType::Type1 => Msg::echo(v),
        };
        let act = |a: Action| match a {
            Action::Send(d, t) => Act::Send(msg(t), d),
            Action::Deliver => Act::Deliver(v),
        };
        rules.push(Rule::new(&[Atom::Input(v)], act(p.start.action)));
        for i in &p.receive {
            let guards: Vec<Vec<Atom>> = match i.guard {
                Guard::True => vec![
                    vec![Atom::Init(v)],
                    vec![Atom::AtLeast(Msg::echo(v), Threshold::ONE)],
                ],
                Guard::AtLeast(MsgType::Type0, Tau::One) => vec![vec![Atom::Init(v)]],
                Guard::AtLeast(MsgType::Type0, _) => return None,
                Guard::AtLeast(MsgType::Type1, t) => {
                    vec![vec![Atom::AtLeast(Msg::echo(v), tau(t))]]
                }
            };
            for g in guards {
                rules.push(Rule::new(&g, act(i.action)));
            }
        }
    }
    Some(ThresholdForm {
        rules,
        once: vec![],
    })
}

impl ThresholdForm {
    /// The same rules with the values 0 and 1 swapped.
    pub fn mirror(&self) -> ThresholdForm {
        let m = |x: Msg| Msg::new(x.kind, 1 - x.value);
        let rules = self
            .rules
            .iter()
            .map(|r| Rule {
                when: r
                    .when
                    .iter()
                    .map(|a| match *a {
                        Atom::Input(v) => Atom::Input(1 - v),
                        Atom::Init(v) => Atom::Init(1 - v),
                        Atom::AtLeast(x, t) => Atom::AtLeast(m(x), t),
                    })
                    .collect(),
                then: match r.then {
                    Act::Send(x, d) => Act::Send(m(x), d),
                    Act::Deliver(v) => Act::Deliver(1 - v),
                },
            })
            .collect();
        ThresholdForm {
            rules,
            once: self.once.clone(),
        }
    }

    /// Whether swapping the values gives the same rules (in any order): then
    /// the threshold automaton of a correct sender with input 1 is that of
    /// input 0 with the values renamed (the automaton ignores the order of
    /// rules but for sends nothing can pre-empt, which commute).
    pub fn symmetric(&self) -> bool {
        let key = |f: &ThresholdForm| {
            let mut k: Vec<String> = f.rules.iter().map(|r| format!("{r:?}")).collect();
            k.sort();
            k
        };
        key(self) == key(&self.mirror())
    }
}
