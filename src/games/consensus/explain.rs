//! `selfplay explain CHECKPOINT`: a learned honest protocol, played greedily,
//! as a decision table a researcher can read: every view the exhaustive
//! search reaches (every placement, input and Byzantine choice), and the
//! action taken. When the table agrees with a scripted protocol on every one
//! of those views, it says so: the learned protocol *is* that protocol here.

use crate::games::consensus::teams::GreedyHonest;
use envs::consensus::protocols::{self, Protocol};
use envs::consensus::spec::{EnvSpec, Identity, NONE};
use envs::consensus::{verify, Action, Limits, Report, VerifyError, View};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// A view as recorded: round, input, what was received.
pub type Key = (u8, u8, Vec<u8>);

/// Runs `inner` and remembers every view it was asked about.
struct Recorder<'a> {
    inner: &'a dyn Protocol,
    seen: Mutex<BTreeMap<Key, Action>>,
}

impl Protocol for Recorder<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn rounds(&self) -> u8 {
        self.inner.rounds()
    }
    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        self.inner.check(spec)
    }
    fn act(&self, view: &View) -> Action {
        let a = self.inner.act(view);
        let key = (view.round, view.input, view.received().to_vec());
        self.seen.lock().expect("not poisoned").insert(key, a);
        a
    }
}

/// Runs `f` on the view a recorded key stands for (the rounds not yet
/// received left empty, as the engine leaves them).
pub fn with_view<T>(spec: &EnvSpec, key: &Key, f: impl FnOnce(&View) -> T) -> T {
    let (round, input, received) = key;
    let mut inbox = received.clone();
    inbox.resize(spec.inbox_rounds() * spec.slots(), NONE);
    f(&View::new(spec, *round, *input, &inbox))
}

/// One view in words: per round, what each sender (by offset) said directly
/// and what each relayer said others had sent.
fn describe(spec: &EnvSpec, key: &Key) -> String {
    let (round, input, received) = key;
    let mut s = if *input == NONE {
        "no input".to_string()
    } else {
        format!("input {input}")
    };
    for r in 1..*round {
        let block = &received[(r as usize - 1) * spec.slots()..][..spec.slots()];
        let words = spec.layout().describe(spec.n(), block, *input != NONE);
        let _ = write!(s, " | r{r}: {words}");
    }
    s
}

/// Every view the exhaustive search reaches, with the protocol's action,
/// and the verifier's report. For a verified protocol that is every view the
/// protocol can meet in this game.
pub fn reachable(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    limits: &Limits,
) -> Result<(Report, BTreeMap<Key, Action>), VerifyError> {
    let rec = Recorder {
        inner: protocol,
        seen: Mutex::new(BTreeMap::new()),
    };
    let report = verify(spec, &rec, limits)?;
    Ok((report, rec.seen.into_inner().expect("not poisoned")))
}

/// The decision table of `protocol` in `spec`, as text.
pub fn explain(spec: &EnvSpec, protocol: &dyn Protocol, limits: &Limits) -> Result<String, String> {
    let (report, seen) = reachable(spec, protocol, limits).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = writeln!(out, "{} | {}", protocol.name(), spec.describe());
    let _ = writeln!(
        out,
        "optimal attack rate {} ({} of {} instances broken){}",
        report.optimal_attack_rate,
        report.broken_instances,
        report.instances,
        if report.verified { ": verified" } else { "" }
    );
    let _ = writeln!(
        out,
        "{} distinct views reached{}; senders named by offset (+1 is the next agent by id)",
        seen.len(),
        if report.verified {
            " (all of them)"
        } else {
            " (broken instances stop early: the views the search reached)"
        }
    );
    for name in protocols::names() {
        let p = protocols::scripted(name).expect("a scripted protocol");
        if p.check(spec).is_err() {
            continue;
        }
        let agrees = seen
            .iter()
            .all(|(key, &a)| with_view(spec, key, |v| p.act(v)) == a);
        if agrees {
            let _ = writeln!(
                out,
                "acts exactly as scripted `{name}` on every one of these views"
            );
        }
    }
    if let Some(summary) = by_signed_values(spec, &seen) {
        out.push_str(&summary);
    }
    for round in 1..=spec.rounds() {
        let rows: Vec<(&Key, &Action)> = seen.iter().filter(|(k, _)| k.0 == round).collect();
        if rows.is_empty() {
            continue;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, a) in &rows {
            *counts.entry(a.label()).or_default() += 1;
        }
        let summary: Vec<String> = counts.iter().map(|(a, c)| format!("{a} in {c}")).collect();
        let _ = writeln!(
            out,
            "\nround {round}: {} views: {}",
            rows.len(),
            summary.join(", ")
        );
        for (key, a) in rows {
            let _ = writeln!(out, "  {:<9} <- {}", a.label(), describe(spec, key));
        }
    }
    Ok(out)
}

/// The last round's decisions in short, for signed agreement with relays
/// (pki, 3 rounds or more): grouped by the agent's input and, for each peer,
/// the set of round-1 values seen signed by it (directly or in a round-2
/// relay). An equivocator is a peer with both values. Each line gives the
/// decisions of every view in the group, so a group that is not uniform
/// shows that the protocol reads more than these sets.
fn by_signed_values(spec: &EnvSpec, seen: &BTreeMap<Key, Action>) -> Option<String> {
    if spec.identity() != Identity::Pki || spec.broadcasts() || spec.rounds() < 3 {
        return None;
    }
    let mut groups: BTreeMap<(u8, Vec<u8>), BTreeMap<&str, usize>> = BTreeMap::new();
    for (key, a) in seen.iter().filter(|(k, _)| k.0 == spec.rounds()) {
        let mut sets = with_view(spec, key, |v| v.round_one_values());
        sets.sort_unstable();
        *groups
            .entry((key.1, sets))
            .or_default()
            .entry(a.label())
            .or_default() += 1;
    }
    let set = |m: u8| ["{}", "{0}", "{1}", "{0,1}"][m as usize];
    let mut out = format!(
        "\nround {} in short: by input and the round-1 values each peer is seen to sign \
         (directly or relayed); {{0,1}} is an equivocator\n",
        spec.rounds()
    );
    for ((input, sets), actions) in &groups {
        let peers: Vec<&str> = sets.iter().map(|&m| set(m)).collect();
        let acts: Vec<String> = actions.iter().map(|(a, c)| format!("{a} in {c}")).collect();
        let _ = writeln!(
            out,
            "  input {input} | peers {:<17} -> {}",
            peers.join(" "),
            acts.join(", ")
        );
    }
    Some(out)
}

/// An honest checkpoint as a deterministic protocol (played greedily), with
/// what it says about itself.
pub fn greedy_from_checkpoint(
    path: &std::path::Path,
) -> Result<(agents::checkpoint::Meta, GreedyHonest), String> {
    let c = crate::config::load_checkpoint(path)?;
    if let Some(trained) = crate::config::trained_in(&c).filter(|g| g != "consensus") {
        return Err(crate::games::verify_elsewhere(path, &trained, "consensus"));
    }
    if c.meta.team != "honest" {
        return Err(format!(
            "{}: a {} checkpoint, not honest",
            path.display(),
            c.meta.team
        ));
    }
    let greedy = GreedyHonest {
        name: path.display().to_string(),
        policy: c.policy()?,
        rounds: c.meta.rounds,
    };
    Ok((c.meta, greedy))
}

/// Loads an honest checkpoint and the game it was trained in.
pub fn from_checkpoint(path: &std::path::Path) -> Result<(EnvSpec, GreedyHonest), String> {
    let (meta, greedy) = greedy_from_checkpoint(path)?;
    let exp = crate::config::parse(&meta.config, &path.display().to_string())
        .map_err(|e| e.to_string())?;
    let spec =
        EnvSpec::new(&exp.env, meta.rounds).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((spec, greedy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::consensus::spec::EnvConfig;

    #[test]
    fn signed_relay_in_short_is_its_own_rule() {
        // signed_relay decides from exactly these sets (an equivocator or a
        // silent peer is ignored, the rest vote with the agent's input, a
        // tie goes to 0), so every group has one action, and it is that rule.
        let cfg = EnvConfig {
            n: 4,
            f: 1,
            identity: Identity::Pki,
            ..EnvConfig::default()
        };
        let spec = EnvSpec::new(&cfg, 3).unwrap();
        let p = protocols::scripted("signed_relay").unwrap();
        let table = explain(&spec, &*p, &Limits::default()).unwrap();
        let lines: Vec<&str> = table
            .lines()
            .skip_while(|l| !l.starts_with("round 3 in short"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 20, "{table}");
        for l in lines {
            assert_eq!(l.matches(" in ").count(), 1, "not uniform: {l}");
            let own = if l.contains("input 1") { 1 } else { -1 };
            let (peers, action) = l.split_once("peers ").unwrap().1.split_once("->").unwrap();
            let votes: i32 = peers
                .split_whitespace()
                .map(|s| match s {
                    "{0}" => -1,
                    "{1}" => 1,
                    _ => 0,
                })
                .sum::<i32>()
                + own;
            let want = if votes > 0 { "commit 1" } else { "commit 0" };
            assert!(action.trim().starts_with(want), "{l}");
        }
    }
}
