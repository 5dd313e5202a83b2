//! `selfplay explain` on a reliable-broadcast checkpoint: the greedy
//! protocol as threshold rules ("on ECHO 1 from 3: send READY 1"), read off
//! the views the exact verifier reaches, and the scripted protocol it
//! matches on all of them, if any.
//!
//! A rule for an action (send a message, deliver a value) is a condition
//! that holds on exactly the reached views where the action fires, among
//! those where the network may still take it (nothing of its kind sent
//! yet, nothing delivered yet, and its masks allow it): one condition
//! ("INIT v", "input v", "X from k", meaning at least k distinct senders,
//! itself included), or else two of them joined by "or", or by "and". An
//! action no such rule explains is listed with how often it fires and the
//! rule that agrees with it on the most views.
//!
//! A checkpoint of a threshold view (`rb.view = "thresholds"` or
//! `"quorums"`) is read in that view's guards instead, one rule per action
//! for either value v ("send READY v when ECHO v >= ceil((n+f+1)/2) or
//! READY v >= f+1"), at its training size or at any `--n`/`--f`
//! (`threshold_rules`).

use crate::games::broadcast::game::RbJob;
use crate::games::broadcast::score::Greedy;
use crate::games::Entry as _;
use envs::broadcast::game::{Kind, Msg, View};
use envs::broadcast::grammar::Dest;
use envs::broadcast::play::{self, ObsView, Reading};
use envs::broadcast::threshold::{self, Act, Atom, Rule, Threshold, ThresholdForm};
use envs::broadcast::{Decision, Limits, RbProtocol, RbSpec, Semantics, REGISTRY};
use std::path::Path;

/// Whether `path` is a reliable-broadcast checkpoint.
pub fn is_rb(path: &Path) -> bool {
    agents::checkpoint::load(path).is_ok_and(|c| {
        crate::config::parse(&c.meta.config, "").is_ok_and(|e| e.game == super::ENTRY.name())
    })
}

/// The explanation of the honest checkpoint at `path`, at its training
/// size or, for a threshold-view checkpoint, at `at` = (n, f).
pub fn explain(path: &Path, at: (Option<usize>, Option<usize>)) -> Result<String, String> {
    let shown = path.display();
    let c = crate::config::load_checkpoint(path)?;
    if c.meta.team != "honest" {
        return Err(format!(
            "{shown}: a {} checkpoint; explain reads an honest one (honest_best.safetensors)",
            c.meta.team
        ));
    }
    let exp =
        crate::config::parse(&c.meta.config, &shown.to_string()).map_err(|e| e.to_string())?;
    let job = RbJob::new(exp).map_err(|e| format!("{shown}: its config: {e}"))?;
    let thresholds = job.rb.view.any_n();
    let (n, f) = (at.0.unwrap_or(job.spec.n), at.1.unwrap_or(job.spec.f));
    let spec = if (n, f) == (job.spec.n, job.spec.f) {
        job.spec
    } else if !thresholds {
        return Err(format!(
            "--n {n} --f {f}: {shown} was trained at n = {}, f = {} on raw counts \
             (rb.view = \"counts\") and plays only there; a checkpoint trained with \
             rb.view = \"thresholds\" or \"quorums\" plays at any n",
            job.spec.n, job.spec.f
        ));
    } else {
        super::verify::spec_from_flags(n, f, job.spec.faults.name(), Some(job.spec.semantics))?
    };
    let greedy = Greedy::of_checkpoint(path, &c, spec, job.reading())?;
    let limits = Limits {
        max_states: match spec == job.spec {
            true => job.rb.max_states,
            false => Limits::default().max_states,
        },
        ..Limits::default()
    };
    // A search too big still reached many views: the rules are read off them.
    let report = envs::broadcast::verify(&spec, &greedy, &limits);
    // Too big for the whole search: a broken protocol is still refuted by
    // stopping each instance's search at its first violation.
    let refuted = match &report {
        Ok(_) => None,
        Err(_) => Some(envs::broadcast::search::refute(&spec, &greedy, &limits)),
    };
    let asked = greedy.asked();
    let mut out = format!(
        "{shown}: reliable broadcast n = {}, f = {} {}, trained {} episodes\n",
        spec.n,
        spec.f,
        spec.faults.name(),
        c.meta.episodes
    );
    let broken = |names: &[&str]| match names.is_empty() {
        true => String::new(),
        false => format!(": {} broken", names.join(", ")),
    };
    out += &match (
        &report,
        refuted
            .as_ref()
            .and_then(|r| r.optimal_attack_rate().map(|x| (r, x))),
    ) {
        (Ok(r), _) => format!(
            "verified: {} (optimal attack rate {}{}); {} distinct views reached\n",
            if r.verified { "yes" } else { "no" },
            r.optimal_attack_rate,
            broken(&r.broken),
            asked.len()
        ),
        // Every instance answered, though the whole search was too big: some
        // instance's first violation was found before the limit.
        (Err(e), Some((r, rate))) => format!(
            "verified: no (optimal attack rate {rate}{} at each instance's first violation; \
             the whole search passed rb.max_states = {}, so more may be broken); \
             {} distinct views reached\n",
            broken(&r.broken()),
            e.limit,
            asked.len()
        ),
        (Err(e), None) => format!(
            "not verified: {e} (rb.max_states in its config); {} distinct views reached\n",
            asked.len()
        ),
    };
    if thresholds {
        out += &threshold_rules(&spec, job.reading(), &asked);
    } else {
        out += "rules (counts are distinct senders, itself included):\n";
        for action in actions() {
            let legal = |v: &View| legal(&spec, job.reading(), v, action);
            out += &format!("  {}\n", rule(&spec, &asked, action, &legal));
        }
    }
    let matches: Vec<&str> = REGISTRY
        .iter()
        .map(|(p, _)| p)
        .filter(|p| {
            asked
                .iter()
                .all(|(v, _)| closure(&spec, &greedy, v) == closure(&spec, *p, v))
        })
        .map(|p| p.name)
        .collect();
    out += &match matches.is_empty() {
        true => "matches no scripted protocol on every view reached\n".to_string(),
        false => format!(
            "matches {} on every view reached (same sends and delivery after acting)\n",
            matches.join(", ")
        ),
    };
    Ok(out)
}

/// What a rule explains.
#[derive(Clone, Copy)]
enum Action {
    Send(Msg),
    Deliver(u8),
}

fn actions() -> Vec<Action> {
    let mut out: Vec<Action> = Msg::all().map(Action::Send).collect();
    out.extend([Action::Deliver(0), Action::Deliver(1)]);
    out
}

impl Action {
    fn name(self) -> String {
        match self {
            Action::Send(m) => format!("send {}", m.name()),
            Action::Deliver(v) => format!("deliver {v}"),
        }
    }

    /// Still possible on `view`: nothing of its kind sent, nothing delivered.
    fn open(self, view: &View) -> bool {
        match self {
            Action::Send(m) if m.kind == Kind::Init => {
                view.input.is_some() && !view.has_sent_kind(m.kind)
            }
            Action::Send(m) => !view.has_sent_kind(m.kind),
            Action::Deliver(_) => view.delivered.is_none(),
        }
    }

    fn fires(self, d: &Decision) -> bool {
        match self {
            Action::Send(m) => d.sends & m.bit() != 0,
            Action::Deliver(v) => d.deliver == Some(v),
        }
    }
}

/// A condition on a view.
#[derive(Clone, Copy)]
enum Cond {
    Input(u8),
    Init(u8),
    AtLeast(Msg, usize),
}

impl Cond {
    fn holds(self, v: &View) -> bool {
        match self {
            Cond::Input(x) => v.input == Some(x),
            Cond::Init(x) => v.init == Some(x),
            Cond::AtLeast(m, k) => v.count(m) >= k,
        }
    }
    fn name(self) -> String {
        match self {
            Cond::Input(x) => format!("input {x}"),
            Cond::Init(x) => format!("INIT {x}"),
            Cond::AtLeast(m, k) => format!("{} from {k}", m.name()),
        }
    }
}

fn conds(spec: &RbSpec) -> Vec<Cond> {
    let mut out = vec![];
    for v in 0..2 {
        out.push(Cond::Input(v));
        out.push(Cond::Init(v));
    }
    for m in Msg::all().filter(|m| m.kind != Kind::Init) {
        for k in 1..=spec.n {
            out.push(Cond::AtLeast(m, k));
        }
    }
    out
}

/// Whether the network may take `action` on `view` at all: the masks of
/// its reading (value symmetry, one value per kind) allow it. Where they
/// do not, the protocol has no choice, and no rule is asked to explain it.
fn legal(spec: &RbSpec, reading: Reading, view: &View, action: Action) -> bool {
    let r = play::honest_rows(reading);
    let mut obs = vec![0.0; r * play::honest_obs_size(spec, reading)];
    let mut masks = vec![0u8; r * play::HONEST_HEADS];
    let turned = play::honest_inputs(spec, view, reading, &mut obs, &mut masks);
    let (head, value) = match action {
        Action::Send(m) => (m.kind as usize, m.value),
        Action::Deliver(v) => (play::HONEST_HEADS - 1, v),
    };
    if reading.per_value {
        // Value v's row, whose class 0 is "for v".
        return masks[value as usize * play::HONEST_HEADS + head] & 1 == 1;
    }
    let class = if turned { 1 - value } else { value };
    masks[head] >> class & 1 == 1
}

/// The rule for `action` over the reached views where it is legal: one
/// condition, or two joined by "or" or by "and", that says exactly where the protocol
/// takes it; else the nearest such rule and how often it agrees.
fn rule(
    spec: &RbSpec,
    asked: &[(View, Decision)],
    action: Action,
    legal: &dyn Fn(&View) -> bool,
) -> String {
    let open: Vec<&(View, Decision)> = asked
        .iter()
        .filter(|(v, _)| action.open(v) && legal(v))
        .collect();
    let fired = open.iter().filter(|(_, d)| action.fires(d)).count();
    if fired == 0 {
        return format!("never {}", action.name());
    }
    let agrees =
        |f: &dyn Fn(&View) -> bool| open.iter().filter(|(v, d)| f(v) == action.fires(d)).count();
    // Every rule in order, single conditions first; the first exact one
    // wins, else the first that agrees most.
    let cs = conds(spec);
    let mut rules: Vec<(String, usize)> = cs
        .iter()
        .map(|c| (c.name(), agrees(&|v| c.holds(v))))
        .collect();
    for (i, a) in cs.iter().enumerate() {
        for b in &cs[i + 1..] {
            let n = agrees(&|v| a.holds(v) || b.holds(v));
            rules.push((format!("{} or {}", a.name(), b.name()), n));
        }
    }
    for (i, a) in cs.iter().enumerate() {
        for b in &cs[i + 1..] {
            let n = agrees(&|v| a.holds(v) && b.holds(v));
            rules.push((format!("{} and {}", a.name(), b.name()), n));
        }
    }
    if let Some((name, _)) = rules.iter().find(|r| r.1 == open.len()) {
        return format!("on {name}: {}", action.name());
    }
    let best = rules.iter().map(|r| r.1).max().unwrap_or(0);
    let (name, _) = rules.iter().find(|r| r.1 == best).expect("some rule");
    format!(
        "{}: no threshold rule (on {fired} of {} reached views where it may); nearest: \
         on {name} (agrees on {best})",
        action.name(),
        open.len()
    )
}

/// A guard of the threshold view about a value: the action's own (`v`) or
/// the other one (`w`). Each is monotone: it stays true once true, as
/// counts only grow and only the first INIT is read.
#[derive(Clone, Copy, PartialEq)]
enum Guard {
    Input(bool),
    Init(bool),
    /// (kind, own value, one of the view's guards: `ObsView::guards`).
    AtLeast(Kind, bool, Threshold),
}

impl Guard {
    fn all(obs: ObsView) -> Vec<Guard> {
        let mut out = vec![];
        for own in [true, false] {
            out.push(Guard::Input(own));
            out.push(Guard::Init(own));
            for kind in [Kind::Echo, Kind::Ready] {
                for &t in obs.guards() {
                    out.push(Guard::AtLeast(kind, own, t));
                }
            }
        }
        out
    }

    /// Whether it holds on `view` for the action's value `v`.
    fn holds(self, spec: &RbSpec, view: &View, v: u8) -> bool {
        let value = |own: bool| if own { v } else { 1 - v };
        match self {
            Guard::Input(own) => view.input == Some(value(own)),
            Guard::Init(own) => view.init == Some(value(own)),
            Guard::AtLeast(kind, own, t) => {
                t.reached(view.count(Msg::new(kind, value(own))), spec.n, spec.f)
            }
        }
    }

    /// The guard as an atom of a threshold form, at value `v`.
    fn atom(self, v: u8) -> Atom {
        let value = |own: bool| if own { v } else { 1 - v };
        match self {
            Guard::Input(own) => Atom::Input(value(own)),
            Guard::Init(own) => Atom::Init(value(own)),
            Guard::AtLeast(kind, own, t) => Atom::AtLeast(Msg::new(kind, value(own)), t),
        }
    }

    fn own(self) -> bool {
        match self {
            Guard::Input(own) | Guard::Init(own) | Guard::AtLeast(_, own, _) => own,
        }
    }

    fn name(self) -> String {
        let value = |own: bool| if own { "v" } else { "w" };
        match self {
            Guard::Input(own) => format!("input {}", value(own)),
            Guard::Init(own) => format!("INIT {} read", value(own)),
            Guard::AtLeast(kind, own, t) => {
                let kind = match kind {
                    Kind::Init => "INIT",
                    Kind::Echo => "ECHO",
                    Kind::Ready => "READY",
                };
                format!("{kind} {} >= {}", value(own), short(t))
            }
        }
    }
}

/// A guard of the threshold views as `explain` writes it ("f+1").
fn short(t: Threshold) -> String {
    match t {
        Threshold::ONE => "1".into(),
        Threshold::T_PLUS_1 => "f+1".into(),
        Threshold::MORE_THAN_HALF => "ceil((n+f+1)/2)".into(),
        t => t.to_string(),
    }
}

/// A rule: guards joined by "or" of "and"s (at most three guards, or as
/// many as [`local_rule`] needs).
#[derive(Clone)]
struct Formula {
    any: Vec<Vec<Guard>>,
}

impl Formula {
    fn holds(&self, spec: &RbSpec, view: &View, v: u8) -> bool {
        self.any
            .iter()
            .any(|all| all.iter().all(|g| g.holds(spec, view, v)))
    }

    fn name(&self) -> String {
        let many = self.any.len() > 1;
        self.any
            .iter()
            .map(|all| {
                let s = all
                    .iter()
                    .map(|g| g.name())
                    .collect::<Vec<_>>()
                    .join(" and ");
                if many && all.len() > 1 {
                    format!("({s})")
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Its rules for `family` at value `v`: one a conjunct.
    fn rules(&self, family: Family, v: u8) -> Vec<Rule> {
        let then = match family {
            Family::Send(kind) => Act::Send(Msg::new(kind, v), Dest::All),
            Family::Deliver => Act::Deliver(v),
        };
        self.any
            .iter()
            .map(|all| Rule {
                when: all.iter().map(|g| g.atom(v)).collect(),
                then,
            })
            .collect()
    }

    fn own_only(&self) -> bool {
        self.any.iter().flatten().all(|g| g.own())
    }
}

/// Every rule of one, two or three guards, simplest first: one guard; two
/// joined by "or", by "and"; then "a or (b and c)" and "a and (b or c)"
/// (the last as "(a and b) or (a and c)").
fn formulas(obs: ObsView) -> Vec<Formula> {
    let g = Guard::all(obs);
    let one = |a: Guard| vec![a];
    let mut out: Vec<Formula> = g.iter().map(|&a| Formula { any: vec![one(a)] }).collect();
    let pairs: Vec<(Guard, Guard)> = (0..g.len())
        .flat_map(|i| (i + 1..g.len()).map(move |j| (i, j)))
        .map(|(i, j)| (g[i], g[j]))
        .collect();
    out.extend(pairs.iter().map(|&(a, b)| Formula {
        any: vec![one(a), one(b)],
    }));
    out.extend(pairs.iter().map(|&(a, b)| Formula {
        any: vec![vec![a, b]],
    }));
    for &a in &g {
        for &(b, c) in pairs.iter().filter(|(b, c)| *b != a && *c != a) {
            out.push(Formula {
                any: vec![one(a), vec![b, c]],
            });
        }
    }
    for &a in &g {
        for &(b, c) in pairs.iter().filter(|(b, c)| *b != a && *c != a) {
            out.push(Formula {
                any: vec![vec![a, b], vec![a, c]],
            });
        }
    }
    out
}

/// What a threshold rule explains: one action for either value `v`.
#[derive(Clone, Copy)]
enum Family {
    Send(Kind),
    Deliver,
}

impl Family {
    fn at(self, v: u8) -> Action {
        match self {
            Family::Send(kind) => Action::Send(Msg::new(kind, v)),
            Family::Deliver => Action::Deliver(v),
        }
    }

    fn name(self) -> String {
        match self {
            Family::Send(Kind::Init) => "send INIT v".into(),
            Family::Send(Kind::Echo) => "send ECHO v".into(),
            Family::Send(Kind::Ready) => "send READY v".into(),
            Family::Deliver => "deliver v".into(),
        }
    }
}

/// The four families, in the order rules are listed (and fire).
const FAMILIES: [Family; 4] = [
    Family::Send(Kind::Init),
    Family::Send(Kind::Echo),
    Family::Send(Kind::Ready),
    Family::Deliver,
];

/// How one family is explained over the reached views.
enum Fit {
    /// It never fires where it may.
    Never,
    /// The first rule of `formulas()` that holds exactly where it fires,
    /// else the one [`local_rule`] reads off.
    Rule(Formula),
    /// No rule does: the nearest one and where it differs.
    Nearest(Miss),
}

/// The nearest rule of a family no rule explains.
struct Miss {
    fired: usize,
    open: usize,
    nearest: usize,
    agrees: usize,
    view: View,
    v: u8,
    fires: bool,
}

impl Miss {
    fn describe(&self, all: &[Formula]) -> String {
        format!(
            "no monotone threshold rule (it fires on {} of {} reached (view, v) where it \
             may); nearest: when {} (agrees on {}); it differs at v = {} on {}, where the \
             protocol {}",
            self.fired,
            self.open,
            all[self.nearest].name(),
            self.agrees,
            self.v,
            show(&self.view),
            if self.fires { "does" } else { "does not" }
        )
    }
}

/// The actions (named as `explain` prints them) that no threshold rule
/// explains over the reached views `asked`, where it lists the nearest
/// rule instead: empty when `explain` prints the protocol as rules
/// throughout (`rb.goal = "rules"`).
pub fn unruled(spec: &RbSpec, reading: Reading, asked: &[(View, Decision)]) -> Vec<String> {
    let all = formulas(reading.view);
    FAMILIES
        .iter()
        .filter(|family| matches!(fit(spec, reading, asked, **family, &all), Fit::Nearest(_)))
        .map(|family| family.name())
        .collect()
}

/// The rule of `family` over the reached views where it may be taken.
fn fit(
    spec: &RbSpec,
    reading: Reading,
    asked: &[(View, Decision)],
    family: Family,
    all: &[Formula],
) -> Fit {
    let open: Vec<(&View, u8, bool)> = asked
        .iter()
        .flat_map(|(view, d)| (0..2).map(move |v| (view, d, v)))
        .filter(|(view, _, v)| {
            let a = family.at(*v);
            a.open(view) && legal(spec, reading, view, a)
        })
        .map(|(view, d, v)| (view, v, family.at(v).fires(d)))
        .collect();
    let fired = open.iter().filter(|o| o.2).count();
    if fired == 0 {
        return Fit::Never;
    }
    let agrees = |f: &Formula| {
        open.iter()
            .filter(|(view, v, fires)| f.holds(spec, view, *v) == *fires)
            .count()
    };
    let scores: Vec<usize> = all.iter().map(agrees).collect();
    if let Some(k) = scores.iter().position(|&a| a == open.len()) {
        return Fit::Rule(all[k].clone());
    }
    if reading.per_value {
        let open = unshadowed(spec, reading, asked, family);
        if let Some(f) = local_rule(spec, reading.view, &open, true) {
            return Fit::Rule(f);
        }
    }
    let best = *scores.iter().max().expect("some rule");
    let k = scores.iter().position(|&a| a == best).expect("the best");
    let (view, v, fires) = open
        .iter()
        .find(|(view, v, fires)| all[k].holds(spec, view, *v) != *fires)
        .expect("a view where the nearest rule differs");
    Fit::Nearest(Miss {
        fired,
        open: open.len(),
        nearest: k,
        agrees: best,
        view: **view,
        v: *v,
        fires: *fires,
    })
}

/// The (view, v, fires) of `family` over `asked` where it may be taken,
/// leaving out value 1 where value 0 of a one-value action was taken
/// there (`play::decision_of`): those say nothing of value 1's rule.
fn unshadowed<'a>(
    spec: &RbSpec,
    reading: Reading,
    asked: &'a [(View, Decision)],
    family: Family,
) -> Vec<(&'a View, u8, bool)> {
    let single = matches!(family, Family::Deliver) || reading.one_value;
    asked
        .iter()
        .flat_map(|(view, d)| (0..2).map(move |v| (view, d, v)))
        .filter(|(view, d, v)| {
            let a = family.at(*v);
            let shadowed = *v == 1 && single && family.at(0).fires(d);
            !shadowed && a.open(view) && legal(spec, reading, view, a)
        })
        .map(|(view, d, v)| (view, v, family.at(v).fires(d)))
        .collect()
}

/// What a value-local rule reads of `view` for value `v`: whether the
/// input is v, whether the INIT read is v, and the levels (how many of
/// the view's guards, `ObsView::guards`, they reach) of ECHO v and READY v.
fn local_key(spec: &RbSpec, obs: ObsView, view: &View, v: u8) -> [u8; 4] {
    [
        (view.input == Some(v)) as u8,
        (view.init == Some(v)) as u8,
        play::level(spec, obs, view.count(Msg::echo(v))),
        play::level(spec, obs, view.count(Msg::ready(v))),
    ]
}

/// The rule of an action that reads its own value's evidence alone (as
/// `rb.per_value` networks do), exactly: where the action fires is a
/// function of [`local_key`] over the reached views where it may be taken,
/// monotone in it (firing at a key, it fires at every larger key reached),
/// so it is "key >= one of the smallest keys it fires at", each of those
/// keys a conjunction of guards about v. `None` where it is not such a
/// function (two views with one key answered differently, or a larger key
/// not firing). `open` leaves out the views where value 0 of a one-value
/// action was taken, which say nothing of value 1's rule.
///
/// Not `exact`: the smallest rule of that form that holds wherever the
/// action fires (it may hold where the action is not taken), with no
/// check: what a threshold automaton over-approximating the protocol needs
/// (`threshold_form`).
fn local_rule(
    spec: &RbSpec,
    obs: ObsView,
    open: &[(&View, u8, bool)],
    exact: bool,
) -> Option<Formula> {
    let mut answers: std::collections::BTreeMap<[u8; 4], bool> = Default::default();
    for &(view, v, fires) in open {
        let answer = answers
            .entry(local_key(spec, obs, view, v))
            .or_insert(fires);
        if *answer != fires && exact {
            return None;
        }
        *answer |= fires;
    }
    let below = |a: &[u8; 4], b: &[u8; 4]| a.iter().zip(b).all(|(x, y)| x <= y);
    let firing: Vec<[u8; 4]> = answers.iter().filter(|a| *a.1).map(|a| *a.0).collect();
    let monotone = answers
        .iter()
        .filter(|a| !*a.1)
        .all(|(k, _)| !firing.iter().any(|f| below(f, k)));
    if !monotone && exact {
        return None;
    }
    let least = firing
        .iter()
        .filter(|k| !firing.iter().any(|f| f != *k && below(f, k)));
    let any = least
        .map(|k| {
            let mut all = vec![];
            if k[0] == 1 {
                all.push(Guard::Input(true));
            }
            if k[1] == 1 {
                all.push(Guard::Init(true));
            }
            for (kind, level) in [(Kind::Echo, k[2]), (Kind::Ready, k[3])] {
                if level > 0 {
                    all.push(Guard::AtLeast(kind, true, obs.guards()[level as usize - 1]));
                }
            }
            all
        })
        .collect();
    Some(Formula { any })
}

/// A threshold-view protocol as threshold rules, one per action, the same
/// for either value v (w is the other value), over the reached views
/// where the action may still be taken; an action no rule of up to three
/// monotone guards explains is listed with how often it fires, the
/// nearest rule and a view where they differ. Ends with whether every
/// rule reads a message as support for the value it carries.
fn threshold_rules(spec: &RbSpec, reading: Reading, asked: &[(View, Decision)]) -> String {
    let obs = reading.view;
    let at: Vec<String> = obs
        .guards()
        .iter()
        .zip(play::thresholds(spec, obs))
        .filter(|(g, _)| **g != Threshold::ONE)
        .map(|(g, t)| format!("{} = {t}", short(*g)))
        .collect();
    let mut out = format!(
        "rules, for either value v (w is the other; counts are distinct senders, itself \
         included; at n = {}, f = {}: {}):\n",
        spec.n,
        spec.f,
        at.join(", ")
    );
    let all = formulas(obs);
    let mut own_only = true;
    for family in FAMILIES {
        match fit(spec, reading, asked, family, &all) {
            Fit::Never => out += &format!("  never {}\n", family.name()),
            Fit::Rule(f) => {
                own_only &= f.own_only();
                out += &format!("  {} when {}\n", family.name(), f.name());
            }
            Fit::Nearest(m) => {
                own_only = false;
                out += &format!("  {}: {}\n", family.name(), m.describe(&all));
            }
        }
    }
    out += &match (own_only, reading.per_value) {
        (true, _) => "every rule reads a message as support for the value it carries (guards \
                      name only v)\n"
            .to_string(),
        (false, true) => "every action reads value v's evidence alone (rb.per_value), but not \
                          every one is monotone in it: those without a rule above fire at some \
                          levels of v and not at larger ones reached\n"
            .to_string(),
        (false, false) => {
            "not every action is a rule over its own value v alone (see above)\n".to_string()
        }
    };
    out
}

/// A threshold-view checkpoint as threshold rules a threshold automaton
/// is built from (`selfplay verify --checkpoint FILE --all-n`): for each
/// action, the rule `explain` finds on the views the search reaches at the
/// training size, for both values (0 first), each kind sent once when the
/// network sends one value of a kind at most (`rb.one_value_per_kind`).
///
/// Then checked against the network on every view at the training size
/// whose own sends went to all (sent to the others = sent to itself, as
/// the network and the rules send): the first where the two change the
/// view differently refuses the checkpoint, naming it. Where they agree on
/// every such view they agree at every n > 3f, f >= 1: the network reads
/// each count only as which of its view's guards (1, f + 1 and
/// ceil((n + f + 1) / 2); the quorum view without 1) it reaches, the rules
/// compare with the same thresholds, and at the training size every
/// pattern of those levels is some view's.
pub fn threshold_form(path: &Path) -> Result<ThresholdForm, String> {
    let shown = path.display();
    let c = crate::config::load_checkpoint(path)?;
    if c.meta.team != "honest" {
        return Err(format!(
            "{shown}: a {} checkpoint; --all-n reads an honest one (honest_best.safetensors)",
            c.meta.team
        ));
    }
    let exp =
        crate::config::parse(&c.meta.config, &shown.to_string()).map_err(|e| e.to_string())?;
    let job = RbJob::new(exp).map_err(|e| format!("{shown}: its config: {e}"))?;
    if !job.rb.view.any_n() {
        return Err(format!(
            "{shown}: trained on raw counts (rb.view = \"counts\"): it plays at n = {} only, \
             so it has no form at every n (a checkpoint of rb.view = \"thresholds\" or \
             \"quorums\" has)",
            job.spec.n
        ));
    }
    let (spec, reading) = (job.spec, job.reading());
    // The argument below needs the levels distinct at the training size
    // (so every pattern of them is some view's there) and the views of
    // the single semantics (the automata's).
    let t = play::thresholds(&spec, reading.view);
    let distinct = t[0] >= 1 && t.windows(2).all(|w| w[0] < w[1]);
    if !distinct || spec.semantics != Semantics::Single {
        return Err(format!(
            "{shown}: trained at n = {}, f = {} ({} semantics): --all-n reads a checkpoint \
             trained with f >= 1 under the single semantics, where the thresholds 1, f + 1 \
             and ceil((n + f + 1) / 2) differ",
            spec.n,
            spec.f,
            spec.semantics.name()
        ));
    }
    let greedy = Greedy::of_checkpoint(path, &c, spec, reading)?;
    if reading.per_value {
        return per_value_form(&spec, reading, &greedy).map_err(|e| format!("{shown}: {e}"));
    }
    // The reached views the rules are read off (a search too big still
    // reached many).
    let _ = envs::broadcast::verify(&spec, &greedy, &Limits::default());
    let asked = greedy.asked();
    let all = formulas(reading.view);
    let mut rules = vec![];
    for family in FAMILIES {
        match fit(&spec, reading, &asked, family, &all) {
            Fit::Never => {}
            Fit::Rule(f) => rules.extend((0..2).flat_map(|v| f.rules(family, v))),
            Fit::Nearest(m) => {
                return Err(format!(
                    "{shown}: not a threshold automaton: {}: {}",
                    family.name(),
                    m.describe(&all)
                ))
            }
        }
    }
    let once = match reading.one_value {
        true => vec![Kind::Init, Kind::Echo, Kind::Ready],
        false => vec![],
    };
    let form = ThresholdForm { rules, once };
    let mut differs = None;
    threshold::each_view(&spec, |view| {
        if differs.is_some() || view.sent != view.to_self {
            return;
        }
        let (rules, net) = (form.decide(&spec, view), greedy.act(&spec, view));
        if threshold::effect(view, &rules) != threshold::effect(view, &net) {
            differs = Some((*view, net, rules));
        }
    });
    if let Some((view, net, rules)) = differs {
        let alike = reading.symmetric && play::alike(&play::leveled(&spec, reading.view, &view));
        return Err(format!(
            "{shown}: not a threshold automaton: its rules and the network differ on {} \
             (at n = {}, f = {}{}): the network {}, the rules {}",
            show(&view),
            spec.n,
            spec.f,
            if alike {
                "; a view alike in both values, where the network sends and delivers nothing"
            } else {
                ""
            },
            said(&net),
            said(&rules)
        ));
    }
    Ok(form)
}

/// The threshold form of a network that decides one value at a time
/// (`rb.per_value`), as an over-approximation: for each action, the
/// smallest rule over its own value's guards that holds on every view at
/// the training size where the network takes it (`local_rule`, not exact),
/// read off every such view whose own sends went to all, reached there or
/// not. The automaton may take the action wherever its rule holds, and
/// never has to (a threshold automaton's rules wait), so every run of the
/// network is one of the automaton's: what is proved of it holds for the
/// network. Checked: every action the network takes on each of those
/// views, its rule allows. At every n > 3f the network's answer is its
/// answer on a view at the training size with the same levels, where the
/// rules say the same, so the inclusion holds at every n. Where the
/// automaton waits and the network would not, the proof may fail for runs
/// the network never makes: a refuted property is then not a bug of the
/// network until the explicit search finds it.
fn per_value_form(
    spec: &RbSpec,
    reading: Reading,
    greedy: &Greedy,
) -> Result<ThresholdForm, String> {
    let mut asked = vec![];
    threshold::each_view(spec, |view| {
        if view.sent == view.to_self {
            asked.push((*view, greedy.act(spec, view)));
        }
    });
    let mut rules = vec![];
    for family in FAMILIES {
        let open = unshadowed(spec, reading, &asked, family);
        if let Some(f) = local_rule(spec, reading.view, &open, false) {
            rules.extend((0..2).flat_map(|v| f.rules(family, v)));
        }
    }
    let once = match reading.one_value {
        true => vec![Kind::Init, Kind::Echo, Kind::Ready],
        false => vec![],
    };
    let form = ThresholdForm { rules, once };
    for (view, d) in &asked {
        let allowed = ThresholdForm {
            rules: form.rules.clone(),
            once: vec![],
        }
        .decide(spec, view);
        let new = d.sends & !view.sent;
        let sends = new & !allowed.sends;
        let deliver = d.deliver.filter(|_| view.delivered.is_none());
        let unruled = deliver.is_some_and(|v| {
            !form
                .rules
                .iter()
                .any(|r| r.then == Act::Deliver(v) && r.when.iter().all(|a| a.holds(spec, view)))
        });
        if sends != 0 || unruled {
            return Err(format!(
                "not a threshold automaton: the network {} on {} (at n = {}, f = {}),                  which no rule over its own value's guards allows",
                said(d),
                show(view),
                spec.n,
                spec.f
            ));
        }
    }
    Ok(form)
}

/// A decision as a person reads it.
fn said(d: &Decision) -> String {
    let sent: Vec<String> = Msg::all()
        .filter(|m| d.sends & m.bit() != 0)
        .map(|m| m.name())
        .collect();
    match (sent.is_empty(), d.deliver) {
        (true, None) => "does nothing".into(),
        (false, None) => format!("sends {}", sent.join(", ")),
        (true, Some(v)) => format!("delivers {v}"),
        (false, Some(v)) => format!("sends {} and delivers {v}", sent.join(", ")),
    }
}

/// A view as a person reads it.
fn show(v: &View) -> String {
    let opt = |x: Option<u8>| x.map_or("none".to_string(), |v| v.to_string());
    let sent: Vec<String> = Msg::all()
        .filter(|m| v.has_sent(*m))
        .map(|m| m.name())
        .collect();
    format!(
        "[input {}, INIT {}, ECHO 0/1 from {}/{}, READY 0/1 from {}/{}, sent {{{}}}, \
         delivered {}]",
        opt(v.input),
        opt(v.init),
        v.count[0],
        v.count[1],
        v.count[2],
        v.count[3],
        sent.join(", "),
        opt(v.delivered)
    )
}

/// What an agent ends with after acting on `view` until nothing changes
/// (as `game::react` runs it, on the agent's own record): its sends,
/// counts, first INIT and delivery.
fn closure(spec: &RbSpec, p: &dyn RbProtocol, view: &View) -> View {
    let mut v = *view;
    loop {
        let d = p.act(spec, &v);
        let allowed = if v.input.is_some() { 0x3f } else { 0x3c };
        let new = d.sends & allowed & !v.sent;
        let deliver = d.deliver.filter(|_| v.delivered.is_none());
        if new == 0 && deliver.is_none() {
            return v;
        }
        v.delivered = v.delivered.or(deliver);
        for m in Msg::all().filter(|m| new & m.bit() != 0) {
            v.sent |= m.bit();
            match m.kind {
                Kind::Init => v.init = v.init.or(Some(m.value)),
                _ => v.count[m.index() - 2] += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::broadcast::protocols::scripted;
    use envs::broadcast::RbFaults;

    /// Bracha's own views give back Bracha's thresholds as rules.
    #[test]
    fn bracha_reads_back_as_its_thresholds() {
        let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
        let p = scripted("bracha").unwrap();
        // Every view with counts up to n, no INIT read or one, nothing sent.
        let mut asked = vec![];
        for e1 in 0..=4u8 {
            for r1 in 0..=4u8 {
                for init in [None, Some(1)] {
                    let v = View {
                        init,
                        count: [0, e1, 0, r1],
                        ..View::default()
                    };
                    asked.push((v, p.act(&spec, &v)));
                }
            }
        }
        assert_eq!(
            rule(&spec, &asked, Action::Send(Msg::echo(1)), &|_| true),
            "on INIT 1: send ECHO 1"
        );
        assert_eq!(
            rule(&spec, &asked, Action::Send(Msg::ready(1)), &|_| true),
            "on ECHO 1 from 3 or READY 1 from 2: send READY 1"
        );
        assert_eq!(
            rule(&spec, &asked, Action::Deliver(1), &|_| true),
            "on READY 1 from 3: deliver 1"
        );
        assert_eq!(
            rule(&spec, &asked, Action::Deliver(0), &|_| true),
            "never deliver 0"
        );
    }

    /// A value-local decision is read off exactly, however many guards
    /// it needs: "key >= one of its smallest firing keys". Not monotone
    /// (firing at READY v from f + 1, not from the quorum) or not a
    /// function of the value's own evidence: no rule.
    #[test]
    fn value_local_rules_are_read_off_exactly() {
        let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
        let views: Vec<(View, u8)> = (0..=4u8)
            .flat_map(|e| (0..=4u8).map(move |r| (e, r)))
            .flat_map(|(e, r)| {
                [None, Some(0), Some(1)].map(|init| {
                    let view = View {
                        init,
                        count: [e, 1, r, 0],
                        ..View::default()
                    };
                    (view, 0)
                })
            })
            .collect();
        let points = |f: &dyn Fn(&View) -> bool| -> Vec<(&View, u8, bool)> {
            views.iter().map(|(w, v)| (w, *v, f(w))).collect()
        };
        // (INIT 0 and ECHO 0 >= f+1) or ECHO 0 >= quorum or (READY 0 >= 1
        // and ECHO 0 >= 1): three conjunctions, five guards.
        let f = |w: &View| {
            (w.init == Some(0) && w.count[0] >= 2)
                || w.count[0] >= 3
                || (w.count[2] >= 1 && w.count[0] >= 1)
        };
        let rule =
            local_rule(&spec, ObsView::Thresholds, &points(&f), true).expect("monotone and local");
        assert_eq!(
            rule.name(),
            "(ECHO v >= 1 and READY v >= 1) or ECHO v >= ceil((n+f+1)/2) or (INIT v read and ECHO v >= f+1)"
        );
        for (w, v) in &views {
            assert_eq!(rule.holds(&spec, w, *v), f(w));
        }
        let not_monotone = |w: &View| w.count[2] == 2;
        assert!(local_rule(&spec, ObsView::Thresholds, &points(&not_monotone), true).is_none());
        let reads_the_other_value = |w: &View| w.init == Some(1) && w.count[0] >= 1;
        assert!(local_rule(
            &spec,
            ObsView::Thresholds,
            &points(&reads_the_other_value),
            true
        )
        .is_none());
        // Not exact: the smallest rule over v's guards holding wherever it
        // fires (READY v >= f + 1; ECHO v >= 1 wherever INIT w and ECHO v).
        let cover = |f: &dyn Fn(&View) -> bool| {
            local_rule(&spec, ObsView::Thresholds, &points(f), false)
                .expect("always a cover")
                .name()
        };
        assert_eq!(cover(&not_monotone), "READY v >= f+1");
        assert_eq!(cover(&reads_the_other_value), "ECHO v >= 1");
    }

    /// Bracha's decisions, read in the threshold view, give back its rules
    /// in symbolic thresholds where it is one: at n = 4, f = 1 each action
    /// is a rule over its own value; at n = 6, f = 1 its delivery on 2f + 1
    /// = 3 READYs is no guard of the view (f + 1 = 2, the quorum 4), and the
    /// explanation says so with a view where the nearest rule differs.
    #[test]
    fn bracha_reads_back_as_symbolic_threshold_rules() {
        let reading = Reading {
            view: ObsView::Thresholds,
            ..Reading::default()
        };
        let p = scripted("bracha").unwrap();
        let asked = |spec: &RbSpec| {
            let mut out = vec![];
            let n = spec.n as u8;
            for input in [None, Some(0)] {
                for init in [None, Some(0), Some(1)] {
                    for v in 0..2 {
                        for e in 0..=n {
                            for r in 0..=n {
                                let mut count = [0; 4];
                                count[v] = e;
                                count[2 + v] = r;
                                let view = View {
                                    input,
                                    init,
                                    count,
                                    ..View::default()
                                };
                                out.push((view, p.act(spec, &view)));
                            }
                        }
                    }
                }
            }
            out
        };
        let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
        let text = threshold_rules(&spec, reading, &asked(&spec));
        assert!(unruled(&spec, reading, &asked(&spec)).is_empty());
        for line in [
            "  send INIT v when input v\n",
            "  send ECHO v when INIT v read\n",
            "  send READY v when ECHO v >= ceil((n+f+1)/2) or READY v >= f+1\n",
            "  deliver v when READY v >= ceil((n+f+1)/2)\n",
            "every rule reads a message as support for the value it carries",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let spec = RbSpec::new(6, 1, RbFaults::Byzantine).unwrap();
        let text = threshold_rules(&spec, reading, &asked(&spec));
        assert!(
            text.contains("  send READY v when ECHO v >= ceil((n+f+1)/2) or READY v >= f+1\n"),
            "{text}"
        );
        assert!(
            text.contains("  deliver v: no monotone threshold rule"),
            "{text}"
        );
        // What `rb.goal = "rules"` reads: the one action without a rule.
        assert_eq!(unruled(&spec, reading, &asked(&spec)), ["deliver v"]);
        // The nearest guard is f + 1 = 2 READYs, on which it does not deliver.
        assert!(
            text.contains("nearest: when READY v >= f+1 (")
                && text.contains("READY 0/1 from 2/0")
                && text.contains("where the protocol does not"),
            "{text}"
        );
        assert!(text.contains("not every action is a rule"), "{text}");
    }
}
