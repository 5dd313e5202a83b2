//! A protocol's threshold automaton (issue 28), built from its threshold
//! form ([`super::threshold`]) for the single semantics and Byzantine
//! faults, and written in ByMC's `.ta` format, which TACO reads.
//!
//! - **A location** is what a correct agent holds apart from its counts:
//!   its input (the correct sender only), the sender's INIT it read, the
//!   messages it sent to the others and to itself, and whether it has
//!   delivered. Only locations reachable by the rules are kept.
//! - **A shared counter** per message (`echo0`, `ready1`, `init0`, ...)
//!   counts the correct agents that sent it to the others; `dlv0` and
//!   `dlv1` count the correct agents that delivered 0 and 1, and the
//!   properties are written over them.
//! - **A guard** "ECHO v from at least T" at a location becomes
//!   `echo_v - s + F + m >= T`, with s = 1 if the location sent ECHO v to
//!   the others (its own copy does not reach it) and m = 1 if it sent ECHO v
//!   to itself: the count an agent can have read is at most the correct
//!   agents that sent it to it, plus one from each of the F Byzantine
//!   agents, plus its own copy.
//! - **The sender.** Three automata: a Byzantine sender (F >= 1 of the
//!   Byzantine agents, the sender among them; every correct agent may read
//!   INIT 0 or INIT 1, first one only, at any time: the equivocation), and a
//!   correct sender with input 0 or 1 (one location holds the sender, whose
//!   INIT v the others read once it sent it).
//! - **Per message** (`--semantics per_message`, RB-Learner's: each value a
//!   broadcast of its own, asked on that value's part of the view alone),
//!   the one safety property is that no correct agent delivers a value v
//!   that a correct sender did not broadcast. Value v's broadcast then has
//!   no INIT v at all: one automaton per value ([`Sender::NotInput`]), in
//!   which every correct agent, the sender too, starts with nothing of v,
//!   only the rules acting on v are kept, and the Byzantine agents' copies
//!   of v count in the guards as above. A rule acting on v that reads
//!   another value's evidence is refused ([`per_message_rules`]): the
//!   per-message game never shows it one.
//!
//! Why the automaton has at least the game's behaviours: every move of the
//! game is a move here. A game agent acts when its view changes, on a
//! decision the rules take ([`super::threshold::ThresholdForm::decide`]):
//! each action of that decision is a rule of the automaton from the agent's
//! location, whose guard holds because a count read is at most its bound
//! above, and whose location conditions (input, INIT read, not yet sent
//! this kind) hold as in the view; taken one after the other they stay
//! enabled, as counters only grow. The automaton may also fire later or
//! choose another value where the protocol breaks a tie: more behaviours,
//! never fewer, so a safety property proved here holds in the game at
//! every n > 3t with t = f.

use super::game::{Kind, Msg};
use super::grammar::Dest;
use super::threshold::{linear, Act, Atom, Rule, Threshold, ThresholdForm};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

/// Who the sender is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum Sender {
    Byzantine,
    Correct(u8),
    /// Per message: value v's own broadcast when the sender is correct and
    /// its input is the other value, so that no INIT v is ever sent.
    NotInput(u8),
}

impl Sender {
    /// The automata of the single semantics.
    pub const ALL: [Sender; 3] = [Sender::Byzantine, Sender::Correct(0), Sender::Correct(1)];
    /// The automata of the per-message semantics.
    pub const PER_MESSAGE: [Sender; 2] = [Sender::NotInput(0), Sender::NotInput(1)];

    /// `byzantine_sender`, `sender_0`, `sender_1`, `sender_not_0`,
    /// `sender_not_1`.
    pub fn name(self) -> String {
        match self {
            Sender::Byzantine => "byzantine_sender".into(),
            Sender::Correct(v) => format!("sender_{v}"),
            Sender::NotInput(v) => format!("sender_not_{v}"),
        }
    }

    /// As a person reads it.
    pub fn describe(self) -> String {
        match self {
            Sender::Byzantine => "a Byzantine sender".into(),
            Sender::Correct(v) => format!("a correct sender with input {v}"),
            Sender::NotInput(v) => format!(
                "a correct sender with input {} (per message: the broadcast of {v}, never sent)",
                1 - v
            ),
        }
    }

    pub fn parse(s: &str) -> Option<Sender> {
        Sender::ALL
            .into_iter()
            .chain(Sender::PER_MESSAGE)
            .find(|x| x.name() == s)
    }
}

/// A correct agent's local state, counts apart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Loc {
    pub input: Option<u8>,
    pub init: Option<u8>,
    /// Messages sent to the others, a bit per message.
    pub sent: u8,
    /// Messages sent to itself.
    pub to_self: u8,
    /// Whether it delivered (which value, the counters `dlv0`, `dlv1` say).
    pub delivered: bool,
}

impl Loc {
    /// An identifier: `loc`, then `_s0` (the sender, input 0), `_i1` (INIT
    /// 1 read), per message sent `_e0a` (ECHO 0 to all), `o` (the others
    /// only), `m` (itself only), and `_d` (delivered).
    pub fn name(&self) -> String {
        let mut s = "loc".to_string();
        if let Some(v) = self.input {
            let _ = write!(s, "_s{v}");
        }
        if let Some(v) = self.init {
            let _ = write!(s, "_i{v}");
        }
        for m in Msg::all() {
            let (w, o) = (self.sent & m.bit() != 0, self.to_self & m.bit() != 0);
            let how = match (w, o) {
                (true, true) => "a",
                (true, false) => "o",
                (false, true) => "m",
                (false, false) => continue,
            };
            let k = match m.kind {
                Kind::Init => "n",
                Kind::Echo => "e",
                Kind::Ready => "r",
            };
            let _ = write!(s, "_{k}{}{how}", m.value);
        }
        if self.delivered {
            s += "_d";
        }
        s
    }

    /// As a person reads it: "INIT 0 read, sent ECHO 0 to all".
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(v) = self.input {
            parts.push(format!("the sender with input {v}"));
        }
        if let Some(v) = self.init {
            parts.push(format!("INIT {v} read"));
        }
        for m in Msg::all() {
            let (w, o) = (self.sent & m.bit() != 0, self.to_self & m.bit() != 0);
            let to = match (w, o) {
                (true, true) => "all",
                (true, false) => "the others",
                (false, true) => "itself",
                (false, false) => continue,
            };
            parts.push(format!("sent {} to {to}", m.name()));
        }
        if self.delivered {
            parts.push("delivered".into());
        }
        if parts.is_empty() {
            "nothing read, sent or delivered".into()
        } else {
            parts.join(", ")
        }
    }

    fn has_sent_kind(&self, kind: Kind) -> bool {
        let both = Msg::new(kind, 0).bit() | Msg::new(kind, 1).bit();
        (self.sent | self.to_self) & both != 0
    }
}

/// A shared counter.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Counter {
    /// Correct agents that sent this message to the others.
    Sent(Msg),
    /// Correct agents that delivered this value.
    Delivered(u8),
}

impl Counter {
    pub fn name(self) -> String {
        match self {
            Counter::Sent(m) => {
                let k = match m.kind {
                    Kind::Init => "init",
                    Kind::Echo => "echo",
                    Kind::Ready => "ready",
                };
                format!("{k}{}", m.value)
            }
            Counter::Delivered(v) => format!("dlv{v}"),
        }
    }
}

/// One conjunct of a rule's guard.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cond {
    /// `div * (counter - s + F + m) >= threshold`, with `own = m - s`.
    Count {
        msg: Msg,
        threshold: Threshold,
        own: i64,
    },
    /// The correct sender sent INIT v to the others.
    InitSent(u8),
}

impl Cond {
    fn bymc(&self) -> String {
        match *self {
            Cond::Count {
                msg,
                threshold: t,
                own,
            } => {
                let x = Counter::Sent(msg).name();
                let lhs = linear(&[(t.div, x.as_str()), (t.div, "F")], 0);
                let rhs = linear(&[(t.n, "N"), (t.t, "T")], t.c - t.div * own);
                format!("{lhs} >= {rhs}")
            }
            Cond::InitSent(v) => format!("{} >= 1", Counter::Sent(Msg::init(v)).name()),
        }
    }
}

/// A rule of the automaton.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub guard: Vec<Cond>,
    /// The counters it increments.
    pub inc: Vec<Counter>,
    /// What an agent does on it, in the project's words.
    pub what: String,
}

/// A protocol's threshold automaton for one kind of sender.
#[derive(Clone, Debug)]
pub struct Automaton {
    pub name: String,
    pub sender: Sender,
    pub locations: Vec<Loc>,
    pub edges: Vec<Edge>,
    pub counters: Vec<Counter>,
    /// An extra assumption `N <= max_n`, to look for a small
    /// counterexample (none by default: every n).
    pub max_n: Option<u32>,
}

/// The properties written as specifications, by name, for `sender`.
pub fn properties(sender: Sender) -> Vec<&'static str> {
    match sender {
        Sender::Byzantine => vec!["agreement"],
        Sender::Correct(_) => vec!["agreement", "correct_sender"],
        // Per message two values may both be delivered: no agreement.
        Sender::NotInput(_) => vec!["correct_sender"],
    }
}

/// The rules of `form` that value `v`'s broadcast runs under the
/// per-message semantics: those acting on v; or the first that acts on v
/// but reads another value (an input, an INIT or a count of it), which the
/// per-message game never shows a rule about v.
pub fn per_message_rules(form: &ThresholdForm, v: u8) -> Result<Vec<Rule>, Rule> {
    let mut out = vec![];
    for r in &form.rules {
        let acts_on = match r.then {
            Act::Send(m, _) => m.value,
            Act::Deliver(w) => w,
        };
        if acts_on != v {
            continue;
        }
        let own = r.when.iter().all(|a| match *a {
            Atom::Input(w) | Atom::Init(w) => w == v,
            Atom::AtLeast(m, _) => m.value == v,
        });
        if !own {
            return Err(r.clone());
        }
        out.push(r.clone());
    }
    Ok(out)
}

/// Builds the automaton of `form` (named `name`) with `sender`. For
/// [`Sender::NotInput`] `form` must pass [`per_message_rules`] (the rules
/// not acting on the value are dropped here).
pub fn build(name: &str, form: &ThresholdForm, sender: Sender) -> Automaton {
    let kept;
    let form = match sender {
        Sender::NotInput(v) => {
            kept = ThresholdForm {
                rules: per_message_rules(form, v)
                    .expect("a per-message form is checked by per_message_rules first"),
                once: form.once.clone(),
            };
            &kept
        }
        _ => form,
    };
    let start = Loc::default();
    let mut locations = vec![start];
    if let Sender::Correct(v) = sender {
        locations.push(Loc {
            input: Some(v),
            ..Loc::default()
        });
    }
    let initial = locations.len();
    let mut index: BTreeMap<Loc, usize> =
        locations.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let mut queue: VecDeque<usize> = (0..locations.len()).collect();
    let mut edges: Vec<Edge> = vec![];
    while let Some(i) = queue.pop_front() {
        let here = locations[i];
        for (to, guard, inc, what) in moves(form, sender, &here) {
            let j = *index.entry(to).or_insert_with(|| {
                locations.push(to);
                queue.push_back(locations.len() - 1);
                locations.len() - 1
            });
            let e = Edge {
                from: i,
                to: j,
                guard,
                inc,
                what,
            };
            if !edges.contains(&e) {
                edges.push(e);
            }
        }
    }
    let (locations, edges) = minimize(locations, edges, initial);
    // A counter no guard reads is left out (a Byzantine sender's automaton
    // never reads the correct sender's INIT), but the deliveries, which
    // the properties read.
    let read = |m: Msg| {
        edges.iter().flat_map(|e| &e.guard).any(|c| match *c {
            Cond::Count { msg, .. } => msg == m,
            Cond::InitSent(v) => Msg::init(v) == m,
        })
    };
    let mut counters: Vec<Counter> = Msg::all().filter(|&m| read(m)).map(Counter::Sent).collect();
    counters.extend([Counter::Delivered(0), Counter::Delivered(1)]);
    let edges = edges
        .into_iter()
        .map(|mut e| {
            e.inc.retain(|c| counters.contains(c));
            e
        })
        .collect();
    Automaton {
        name: format!("{name}_{}", sender.name()),
        sender,
        locations,
        edges,
        counters,
        max_n: None,
    }
}

/// Merges locations with the same future (a bisimulation: the same rules,
/// guards and counter updates, into merged locations again), keeping the
/// `initial` first ones apart. Exact: the properties read counters only,
/// and merged locations change the counters alike. A merged location is
/// named and described by its first member. Returns the locations kept and
/// the rules between them, without repeats.
fn minimize(locations: Vec<Loc>, edges: Vec<Edge>, initial: usize) -> (Vec<Loc>, Vec<Edge>) {
    let mut class: Vec<usize> = (0..locations.len()).map(|i| i.min(initial)).collect();
    loop {
        let mut seen: BTreeMap<(usize, Vec<String>), usize> = BTreeMap::new();
        let mut next = vec![0; locations.len()];
        for i in 0..locations.len() {
            let mut sig: Vec<String> = edges
                .iter()
                .filter(|e| e.from == i)
                .map(|e| format!("{:?} {:?} {}", e.guard, e.inc, class[e.to]))
                .collect();
            sig.sort();
            sig.dedup();
            let k = seen.len();
            next[i] = *seen.entry((class[i], sig)).or_insert(k);
        }
        let stable = seen.len()
            == class
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
        class = next;
        if stable {
            break;
        }
    }
    // Classes numbered by first member, so the start stays location 0.
    let mut first: BTreeMap<usize, usize> = BTreeMap::new();
    let mut order = vec![];
    for (i, &c) in class.iter().enumerate() {
        if let std::collections::btree_map::Entry::Vacant(v) = first.entry(c) {
            v.insert(order.len());
            order.push(i);
        }
    }
    let kept: Vec<Loc> = order.iter().map(|&i| locations[i]).collect();
    let mut out: Vec<Edge> = vec![];
    for e in edges {
        let e = Edge {
            from: first[&class[e.from]],
            to: first[&class[e.to]],
            ..e
        };
        let same =
            |x: &Edge| x.from == e.from && x.to == e.to && x.guard == e.guard && x.inc == e.inc;
        if !out.iter().any(same) {
            out.push(e);
        }
    }
    (kept, out)
}

type Move = (Loc, Vec<Cond>, Vec<Counter>, String);

/// Every rule from `here`: reading the sender's INIT, and each rule of the
/// form that may fire there and changes something. A move that reads an
/// INIT is followed at once by the eager rules it enables ([`eager`]).
fn moves(form: &ThresholdForm, sender: Sender, here: &Loc) -> Vec<Move> {
    let mut out: Vec<Move> = vec![];
    // The sender's INIT over the wire: non-senders only, the first only.
    if here.init.is_none() && here.input.is_none() {
        for v in 0..2 {
            let guard = match sender {
                Sender::Byzantine => vec![],
                Sender::Correct(w) if w == v => vec![Cond::InitSent(v)],
                Sender::Correct(_) | Sender::NotInput(_) => continue,
            };
            let to = Loc {
                init: Some(v),
                ..*here
            };
            out.push((to, guard, vec![], format!("read INIT {v}")));
        }
    }
    for r in &form.rules {
        if let Some((guard, to, inc, what)) = fire(form, r, here) {
            out.push((to, guard, inc.into_iter().collect(), what));
        }
    }
    for (to, _, inc, what) in &mut out {
        if to.init != here.init {
            for r in form.rules.iter().filter(|r| eager(form, r)) {
                if let Some((_, next, more, then)) = fire(form, r, to) {
                    *to = next;
                    inc.extend(more);
                    *what = format!("{what}, then {then}");
                }
            }
        }
    }
    out
}

/// A rule the game fires as soon as the sender's INIT is read, and that
/// nothing else can pre-empt: it reads the input and the INIT only, it
/// sends, and if its kind is sent once every rule sending that kind reads
/// the input and INIT only too (so which one fires is settled by the
/// location, as in the game). The automaton fires it within the move that
/// reads the INIT: the game's reaction to that read does, before any
/// other agent moves, so no behaviour of the game is lost, and the
/// location "INIT read, not yet acted on" is never held.
fn eager(form: &ThresholdForm, r: &Rule) -> bool {
    let blind = |r: &Rule| {
        r.when
            .iter()
            .all(|a| matches!(a, Atom::Input(_) | Atom::Init(_)))
    };
    match r.then {
        Act::Send(m, _) if blind(r) => {
            !form.once.contains(&m.kind)
                || form
                    .rules
                    .iter()
                    .all(|x| !matches!(x.then, Act::Send(y, _) if y.kind == m.kind) || blind(x))
        }
        _ => false,
    }
}

/// Rule `r` from `here`, if its location atoms hold there and it changes
/// something: its guard on counters, the location it leads to, the counter
/// it increments and what it does in words.
fn fire(
    form: &ThresholdForm,
    r: &Rule,
    here: &Loc,
) -> Option<(Vec<Cond>, Loc, Option<Counter>, String)> {
    let mut guard = vec![];
    for a in &r.when {
        match *a {
            Atom::Input(v) if here.input != Some(v) => return None,
            Atom::Init(v) if here.init != Some(v) => return None,
            Atom::Input(_) | Atom::Init(_) => {}
            Atom::AtLeast(msg, threshold) => {
                let own =
                    (here.to_self & msg.bit() != 0) as i64 - (here.sent & msg.bit() != 0) as i64;
                guard.push(Cond::Count {
                    msg,
                    threshold,
                    own,
                });
            }
        }
    }
    match r.then {
        Act::Send(m, dest) => {
            if m.kind == Kind::Init && here.input.is_none() {
                return None;
            }
            if form.once.contains(&m.kind) && here.has_sent_kind(m.kind) {
                return None;
            }
            let wire = matches!(dest, Dest::All | Dest::Neighbours) && here.sent & m.bit() == 0;
            let own = matches!(dest, Dest::All | Dest::Myself) && here.to_self & m.bit() == 0;
            if !wire && !own {
                return None;
            }
            let mut to = *here;
            if wire {
                to.sent |= m.bit();
            }
            if own {
                to.to_self |= m.bit();
                if m.kind == Kind::Init && to.init.is_none() {
                    to.init = Some(m.value);
                }
            }
            let dest = match (wire, own) {
                (true, true) => "all",
                (true, false) => "the others",
                _ => "itself",
            };
            let inc = wire.then_some(Counter::Sent(m));
            Some((guard, to, inc, format!("send {} to {dest}", m.name())))
        }
        Act::Deliver(v) => {
            if here.delivered {
                return None;
            }
            let to = Loc {
                delivered: true,
                ..*here
            };
            Some((
                guard,
                to,
                Some(Counter::Delivered(v)),
                format!("deliver {v}"),
            ))
        }
    }
}

impl Automaton {
    /// The specification of `property` over the delivery counters.
    pub fn specification(&self, property: &str) -> Option<String> {
        match (property, self.sender) {
            ("agreement", _) => Some("[](dlv0 == 0 || dlv1 == 0)".into()),
            ("correct_sender", Sender::Correct(v)) => Some(format!("[](dlv{} == 0)", 1 - v)),
            ("correct_sender", Sender::NotInput(v)) => Some(format!("[](dlv{v} == 0)")),
            _ => None,
        }
    }

    /// The automaton in ByMC's `.ta` format, with the specifications of
    /// `props` (every property of its sender when empty).
    pub fn bymc(&self, props: &[&str]) -> String {
        let props: Vec<&str> = if props.is_empty() {
            properties(self.sender)
        } else {
            props.to_vec()
        };
        let mut s = String::new();
        let w = &mut s;
        let _ = writeln!(
            w,
            "/* {}: the threshold automaton of the correct agents with {}\n   \
             (written by selfplay export-ta; docs/reliable_broadcast.md). */\n",
            self.name,
            self.sender.describe()
        );
        let _ = writeln!(w, "skel Proc {{");
        let _ = writeln!(w, "  local pc;");
        let names: Vec<String> = self.counters.iter().map(|c| c.name()).collect();
        let _ = writeln!(w, "  shared {};", names.join(", "));
        let _ = writeln!(w, "  parameters N, T, F;");
        let byz_sender = self.sender == Sender::Byzantine;
        let mut assumptions: Vec<String> =
            ["N > 3 * T", "T >= F", "F >= 0"].map(String::from).to_vec();
        if byz_sender {
            assumptions.push("F >= 1".into());
        }
        if let Some(n) = self.max_n {
            assumptions.push(format!("N <= {n}"));
        }
        let _ = writeln!(w, "\n  assumptions ({}) {{", assumptions.len());
        for a in &assumptions {
            let _ = writeln!(w, "    {a};");
        }
        let _ = writeln!(w, "  }}\n\n  locations ({}) {{", self.locations.len());
        for (i, l) in self.locations.iter().enumerate() {
            let _ = writeln!(w, "    {}: [{i}]; /* {} */", l.name(), l.describe());
        }
        let mut inits = vec![];
        for (i, l) in self.locations.iter().enumerate() {
            // Every correct agent starts at location 0 but a correct
            // sender, which starts at 1 (it holds its input); per message
            // the sender holds nothing of the value and starts at 0 too.
            let count = match (i, self.sender) {
                (0, Sender::Byzantine | Sender::NotInput(_)) => "N - F",
                (0, Sender::Correct(_)) => "N - F - 1",
                (1, Sender::Correct(_)) => "1",
                _ => "0",
            };
            inits.push(format!("{} == {count}", l.name()));
        }
        inits.extend(names.iter().map(|n| format!("{n} == 0")));
        let _ = writeln!(w, "  }}\n\n  inits ({}) {{", inits.len());
        for i in &inits {
            let _ = writeln!(w, "    {i};");
        }
        let _ = writeln!(w, "  }}\n\n  rules ({}) {{", self.edges.len());
        for (k, e) in self.edges.iter().enumerate() {
            let guard = if e.guard.is_empty() {
                "true".to_string()
            } else {
                let g: Vec<String> = e.guard.iter().map(|c| format!("({})", c.bymc())).collect();
                g.join(" && ")
            };
            let updates: Vec<String> = self
                .counters
                .iter()
                .map(|c| {
                    let n = c.name();
                    if e.inc.contains(c) {
                        format!("{n}' == {n} + 1")
                    } else {
                        format!("{n}' == {n}")
                    }
                })
                .collect();
            let _ = writeln!(
                w,
                "    /* {} */\n    {k}: {} -> {}\n        when ({guard})\n        do {{ {}; }};",
                e.what,
                self.locations[e.from].name(),
                self.locations[e.to].name(),
                updates.join("; ")
            );
        }
        let specs: Vec<String> = props
            .iter()
            .filter_map(|p| self.specification(p).map(|f| format!("    {p}: {f}")))
            .collect();
        let _ = writeln!(w, "  }}\n\n  specifications ({}) {{", specs.len());
        let _ = writeln!(w, "{}", specs.join(";\n"));
        let _ = writeln!(w, "  }}\n}} /* Proc */");
        s
    }
}
