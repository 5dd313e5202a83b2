//! `selfplay explain` on a sampling-game honest checkpoint: the learned
//! protocol, played greedily, as a rule over (round, own colour, counts),
//! and whether it is Slush, Snowflake or something new.
//!
//! The network sees exactly (own colour, round, counts of 0s and 1s), so its
//! greedy play is a table over those (`verify::greedy_table`), and the
//! table is the whole protocol. Slush is a rule of that shape; Snowflake
//! keeps a counter, so only Snowflake with beta = 1 (commit on `alpha`
//! answers of one's own colour) is; any beta >= 2 needs memory a table has
//! not. Each candidate is compared on every view the game can show: with
//! no Byzantine node every sampled peer answers, so the counts sum to `k`;
//! with one, any sum up to `k` can be seen.

use crate::games::sampling::score::{self as score, HonestRule};
use crate::games::Entry as _;
use envs::sampling::exact::Table;
use envs::sampling::{AttackGoal, SlushSpec, Trivial, COMMIT, HOLD0, HOLD1};
use std::fmt::Write;
use std::path::Path;

/// Whether `path` is a sampling-game checkpoint (read by this module).
pub fn is_slush(path: &Path) -> bool {
    agents::checkpoint::load(path).is_ok_and(|c| {
        crate::config::parse(&c.meta.config, "").is_ok_and(|e| e.game == super::ENTRY.name())
    })
}

/// A view: round, own colour, counts (0s, 1s).
type View = (u8, u8, [usize; 2]);

/// Every view the game can show a node of `spec`.
fn views(spec: &SlushSpec) -> Vec<View> {
    let mut out = vec![];
    for round in 1..=spec.rounds {
        for colour in 0..2u8 {
            for z in 0..=spec.k {
                for o in 0..=spec.k - z {
                    if spec.f > 0 || z + o == spec.k {
                        out.push((round, colour, [z, o]));
                    }
                }
            }
        }
    }
    out
}

/// A stateless candidate rule: Slush (`snowflake` false) or Snowflake with
/// beta = 1, at threshold `alpha`; `alpha = 0` stands for committing one's
/// own colour at once, whatever the sample says (no sampling at all).
fn candidate(spec: &SlushSpec, alpha: usize, snowflake: bool, v: View) -> u8 {
    let (round, own, c) = v;
    if round >= spec.rounds || alpha == 0 {
        return COMMIT;
    }
    let other = 1 - own;
    if c[other as usize] >= alpha {
        other
    } else if snowflake && c[own as usize] >= alpha {
        COMMIT
    } else {
        own
    }
}

fn action_name(a: u8, own: u8) -> &'static str {
    match a {
        COMMIT => "commit",
        x if x == own => "keep",
        HOLD0 | HOLD1 => "adopt the other colour",
        _ => "?",
    }
}

/// The learned protocol of the checkpoint at `path` in words.
pub fn explain(path: &Path) -> Result<String, String> {
    let shown = path.display().to_string();
    let c = crate::config::load_checkpoint(path)?;
    let exp = crate::config::parse(&c.meta.config, &shown).map_err(|e| e.to_string())?;
    if c.meta.team != "honest" {
        return Err(format!(
            "{shown}: a {} checkpoint; explain reads honest protocols",
            c.meta.team
        ));
    }
    let spec = SlushSpec::new(&exp.env, &exp.slush).map_err(|e| format!("{shown}: {e}"))?;
    let policy = c.policy()?;
    if policy.inputs() != spec.obs_size() {
        return Err(format!(
            "{shown}: not a sampling-game honest network of this game"
        ));
    }
    let table: Table = crate::games::sampling::verify::greedy_table(&policy, spec.k, spec.rounds);
    let mut s = format!(
        "{shown}: a sampling-game protocol (n = {}, f = {}, k = {}, {} rounds), played greedily\n",
        spec.n, spec.f, spec.k, spec.rounds
    );
    s += &rule_text(&spec, &table);
    // How it stands against the exact optimal adversary of its training game.
    s += "\n";
    for goal in [
        AttackGoal::Disagreement,
        AttackGoal::Majority,
        AttackGoal::Correctness,
    ] {
        let mut sp = spec.clone();
        sp.attack_goal = goal;
        if let Some(o) = score::optimum(&sp, HonestRule::Network(&policy), exp.eval.max_work) {
            let _ = writeln!(
                s,
                "exact optimal attack rate ({}, inputs {}): {:.6} (answerer blind to the samples), \
                 {:.6} (seeing them)",
                goal.name(),
                spec.ones
                    .map_or("uniform".to_string(), |o| format!("with {o} honest ones")),
                o.blind,
                o.seeing_samples
            );
        }
    }
    Ok(s)
}

/// A table as a rule in words, with the nearest scripted rule.
pub fn rule_text(spec: &SlushSpec, table: &Table) -> String {
    let all = views(spec);
    let act = |v: View| table.action(v.0, v.1, v.2);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "it sees its colour, the round and how many of its {} sampled peers answered 0 and 1: \
         a rule over those, {} views{}",
        spec.k,
        all.len(),
        if spec.f == 0 {
            " (every peer answers: counts sum to k)"
        } else {
            ""
        }
    );
    nearest(spec, &all, &act, &mut s);
    by_round(spec, &all, &act, &mut s);
    s
}

/// The nearest stateless scripted rule to `act`, by views on which it
/// differs: Slush and Snowflake (beta = 1) at every alpha, then the
/// trivial rules; and the views where they differ, a dozen at most.
fn nearest(spec: &SlushSpec, all: &[View], act: &dyn Fn(View) -> u8, s: &mut String) {
    type Candidate<'a> = (String, Box<dyn Fn(View) -> u8 + 'a>);
    let mut candidates: Vec<Candidate> = vec![];
    for snowflake in [false, true] {
        for alpha in (snowflake as usize)..=spec.k {
            let name = if alpha == 0 {
                "its own initial colour, committed in round 1 (no sampling)".to_string()
            } else if snowflake {
                format!("Snowflake with alpha = {alpha}, beta = 1")
            } else {
                format!("Slush with alpha = {alpha}")
            };
            candidates.push((
                name,
                Box::new(move |v| candidate(spec, alpha, snowflake, v)),
            ));
        }
    }
    for (t, name) in [
        (Trivial::Always(0), "always decide 0 (always0)"),
        (Trivial::Always(1), "always decide 1 (always1)"),
        (
            Trivial::FirstSample,
            "the first sample's majority, committed in round 2 (first_sample)",
        ),
    ] {
        candidates.push((
            name.to_string(),
            Box::new(move |(round, colour, c): View| t.action(round, spec.rounds, colour, c)),
        ));
    }
    let mut best: Option<(usize, usize, Vec<View>)> = None;
    for (k, (_, rule)) in candidates.iter().enumerate() {
        let diff: Vec<View> = all.iter().copied().filter(|&v| act(v) != rule(v)).collect();
        if best.as_ref().is_none_or(|b| diff.len() < b.0) {
            best = Some((diff.len(), k, diff));
        }
    }
    let (misses, k, diff) = best.expect("some candidate");
    let (name, nearest) = &candidates[k];
    if misses == 0 {
        let _ = writeln!(s, "it is {name}: the same action on every view");
    } else {
        let _ = writeln!(
            s,
            "something new: the nearest scripted rule, {name}, differs on {misses} of {} views \
             (Snowflake with beta >= 2 keeps a counter, which this rule has not)",
            all.len()
        );
        for (round, own, c) in diff.iter().take(12) {
            let _ = writeln!(
                s,
                "  round {round}, colour {own}, counts (own {}, other {}): {} where it would {}",
                c[*own as usize],
                c[1 - *own as usize],
                action_name(act((*round, *own, *c)), *own),
                action_name(nearest((*round, *own, *c)), *own)
            );
        }
    }
}

/// The rule itself, rounds with the same rule grouped; counts relative to
/// the node's own colour, since a colour-blind rule reads the same.
fn by_round(spec: &SlushSpec, all: &[View], act: &dyn Fn(View) -> u8, s: &mut String) {
    let _ = writeln!(s, "\nthe rule (counts as own colour, other colour):");
    let rule_of_round = |round: u8| -> Vec<String> {
        (0..2u8)
            .map(|own| {
                let mut by_action: Vec<(u8, Vec<String>)> = vec![];
                for v in all.iter().filter(|v| v.0 == round && v.1 == own) {
                    let a = act(*v);
                    let c = v.2;
                    let label = format!("({},{})", c[own as usize], c[1 - own as usize]);
                    let rel = match a {
                        COMMIT => COMMIT,
                        x if x == own => 0,
                        _ => 1,
                    };
                    match by_action.iter_mut().find(|(r, _)| *r == rel) {
                        Some((_, l)) => l.push(label),
                        None => by_action.push((rel, vec![label])),
                    }
                }
                // Sorted, so that a colour-blind rule reads the same for both colours.
                for (_, l) in by_action.iter_mut() {
                    l.sort();
                }
                by_action.sort();
                by_action
                    .iter()
                    .map(|(rel, l)| {
                        let what = match *rel {
                            0 => "keep",
                            1 => "adopt other",
                            _ => "commit",
                        };
                        format!("{what} on {}", l.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect()
    };
    let mut round = 1;
    while round <= spec.rounds {
        let this = rule_of_round(round);
        let mut to = round;
        while to < spec.rounds && rule_of_round(to + 1) == this {
            to += 1;
        }
        let span = if to == round {
            format!("round {round}")
        } else {
            format!("rounds {round}-{to}")
        };
        if this[0] == this[1] {
            let _ = writeln!(s, "  {span}, either colour: {}", this[0]);
        } else {
            for (own, text) in this.iter().enumerate() {
                let _ = writeln!(s, "  {span}, colour {own}: {text}");
            }
        }
        round = to + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::consensus::EnvConfig;
    use envs::sampling::SlushConfig;

    fn spec(f: usize) -> SlushSpec {
        let env = EnvConfig {
            n: 5,
            f,
            ..EnvConfig::default()
        };
        SlushSpec::new(&env, &SlushConfig::default()).unwrap()
    }

    #[test]
    fn scripted_rules_written_as_tables_are_named() {
        for f in [0, 1] {
            let sp = spec(f);
            let slush = Table::new(3, 8, |r, c, n| candidate(&sp, 2, false, (r, c, n)));
            let text = rule_text(&sp, &slush);
            assert!(text.contains("it is Slush with alpha = 2:"), "{text}");
            let flake = Table::new(3, 8, |r, c, n| candidate(&sp, 1, true, (r, c, n)));
            let text = rule_text(&sp, &flake);
            assert!(
                text.contains("it is Snowflake with alpha = 1, beta = 1"),
                "{text}"
            );
        }
        let sp = spec(1);
        let at_once = Table::new(3, 8, |_, _, _| COMMIT);
        let text = rule_text(&sp, &at_once);
        assert!(
            text.contains("it is its own initial colour, committed in round 1"),
            "{text}"
        );
        for (t, name) in [
            (Trivial::Always(0), "it is always decide 0"),
            (Trivial::Always(1), "it is always decide 1"),
            (Trivial::FirstSample, "it is the first sample's majority"),
        ] {
            let table = Table::new(3, 8, |r, c, n| t.action(r, 8, c, n));
            let text = rule_text(&sp, &table);
            assert!(text.contains(name), "{text}");
        }
        // Never committing early and never switching is neither.
        let sp = spec(1);
        let stubborn = Table::new(3, 8, |r, c, _| if r == 8 { COMMIT } else { c });
        let text = rule_text(&sp, &stubborn);
        assert!(text.contains("something new"), "{text}");
        assert!(
            text.contains("rounds 1-7, either colour: keep on"),
            "{text}"
        );
    }
}
