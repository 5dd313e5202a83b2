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

use crate::games::broadcast::game::RbJob;
use crate::games::broadcast::score::Greedy;
use crate::games::Entry as _;
use envs::broadcast::game::{Kind, Msg, View};
use envs::broadcast::play::{self, Reading};
use envs::broadcast::{Decision, Limits, RbProtocol, RbSpec, REGISTRY};
use std::path::Path;

/// Whether `path` is a reliable-broadcast checkpoint.
pub fn is_rb(path: &Path) -> bool {
    agents::checkpoint::load(path).is_ok_and(|c| {
        crate::config::parse(&c.meta.config, "").is_ok_and(|e| e.game == super::ENTRY.name())
    })
}

/// The explanation of the honest checkpoint at `path`.
pub fn explain(path: &Path) -> Result<String, String> {
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
    let spec = job.spec;
    let greedy = Greedy::of_checkpoint(path, &c, job.spec, job.reading())?;
    let limits = Limits {
        max_states: job.rb.max_states,
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
    out += "rules (counts are distinct senders, itself included):\n";
    for action in actions() {
        let legal = |v: &View| legal(&spec, job.reading(), v, action);
        out += &format!("  {}\n", rule(&spec, &asked, action, &legal));
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
    let mut obs = vec![0.0; play::honest_obs_size(spec)];
    let mut masks = [0u8; play::HONEST_HEADS];
    let turned = play::honest_input(spec, view, reading, &mut obs, &mut masks);
    let (head, value) = match action {
        Action::Send(m) => (m.kind as usize, m.value),
        Action::Deliver(v) => (play::HONEST_HEADS - 1, v),
    };
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
}
