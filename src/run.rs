//! Running an evaluation experiment: the honest team against each scripted
//! adversary, sampled and (where the teams are deterministic) exact, plus the
//! verifier's optimal attack rate against the honest protocol.

use crate::config::Resolved;
use crate::export::{csv_bytes, write_atomic, MetricsRow, TimingRow};
use agents::{ByzantinePolicy, HonestPolicy, Rollout, ScriptedByzantine, ScriptedHonest, Tally};
use anyhow::Context;
use envs::{adversaries, instance_count, instances, verify, BatchEnv, Limits, Report, VerifyError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

/// Sampled and exact figures of one honest team against one adversary.
pub struct Evaluation {
    pub sampled: Tally,
    /// Over every instance, when both teams are deterministic and it is small enough.
    pub exact: Option<Tally>,
}

/// Plays `episodes` sampled episodes in batches, and every instance once if `exact`.
pub fn evaluate(
    res: &Resolved,
    honest: &mut dyn HonestPolicy,
    byzantine: &mut dyn ByzantinePolicy,
    rng: &mut ChaCha8Rng,
    exact: bool,
) -> Evaluation {
    let spec = &res.spec;
    let (episodes, batch) = (res.exp.eval.episodes, res.exp.eval.batch);
    let mut rollout = Rollout::default();
    let mut sampled = Tally::default();
    let mut env = BatchEnv::new(spec.clone(), batch.min(episodes as usize));
    while sampled.episodes < episodes {
        let left = (episodes - sampled.episodes) as usize;
        if left < env.len() {
            env = BatchEnv::new(spec.clone(), left);
        }
        env.reset(rng);
        rollout.play(&mut env, honest, byzantine, rng);
        sampled.add(&env);
    }
    let exact = exact.then(|| {
        let mut tally = Tally::default();
        for chunk in instances(spec).chunks(batch) {
            env.reset_to(chunk);
            rollout.play(&mut env, honest, byzantine, rng);
            tally.add(&env);
        }
        tally
    });
    Evaluation { sampled, exact }
}

fn adversary(res: &Resolved, name: &str) -> Box<dyn envs::Adversary> {
    let name = if name == "none" { "silent" } else { name };
    adversaries::scripted(name, res.protocol.clone()).expect("validated adversary")
}

/// Runs the experiment, writing its files to `out`; returns the metrics rows.
pub fn run(res: &Resolved, out: &Path, quiet: bool) -> anyhow::Result<Vec<MetricsRow>> {
    let exp = &res.exp;
    let spec = &res.spec;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("config.toml"), toml::to_string(exp)?.as_bytes())?;
    let say = |s: String| {
        if !quiet {
            println!("{s}");
        }
    };
    say(format!(
        "run {}: honest {} | {} | seed {}",
        res.name(),
        res.protocol.name(),
        spec.describe(),
        exp.seed
    ));
    if let Some(why) = spec.impossibility() {
        say(format!("note: {why}"));
    }
    let mut timing = vec![];

    let clock = Instant::now();
    let report: Option<Report> = if exp.eval.verify {
        match verify(
            spec,
            &*res.protocol,
            &Limits {
                max_work: exp.eval.max_work,
            },
        ) {
            Ok(r) => Some(r),
            Err(e @ VerifyError::TooLarge { .. }) => {
                say(format!("verifier: {e}; optimal_attack_rate left empty"));
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    timing.push(TimingRow {
        run: res.name().into(),
        stage: "verify".into(),
        seconds: clock.elapsed().as_secs_f64(),
        episodes_per_second: None,
    });
    if let Some(r) = &report {
        write_atomic(
            &out.join("verify.json"),
            serde_json::to_string_pretty(r)?.as_bytes(),
        )?;
        say(format!(
            "verifier: optimal attack rate {} ({}/{} instances broken){}",
            r.optimal_attack_rate,
            r.broken_instances,
            r.instances,
            if r.verified { ", verified" } else { "" }
        ));
        if let Some(cex) = &r.counterexample {
            write_atomic(&out.join("counterexample.txt"), cex.render().as_bytes())?;
            say(format!(
                "  counterexample: {}",
                out.join("counterexample.txt").display()
            ));
        }
    }

    let feasible = instance_count(spec) <= exp.eval.max_instances as f64;
    let mut rows = vec![];
    say(format!(
        "{:<12} {:>12} {:>12} {:>12} {:>10}",
        "adversary", "honest win", "exact win", "attack", "optimum"
    ));
    for (k, name) in res.adversaries.iter().enumerate() {
        let adv = adversary(res, name);
        let exact = feasible && adv.deterministic();
        let mut honest = ScriptedHonest {
            protocol: res.protocol.clone(),
        };
        let mut byz = ScriptedByzantine { adversary: adv };
        // One stream per evaluation: adding an adversary changes no other row.
        let mut rng = ChaCha8Rng::seed_from_u64(exp.seed);
        rng.set_stream(1 + k as u64);
        let clock = Instant::now();
        let ev = evaluate(res, &mut honest, &mut byz, &mut rng, exact);
        let secs = clock.elapsed().as_secs_f64();
        timing.push(TimingRow {
            run: res.name().into(),
            stage: format!("eval {name}"),
            seconds: secs,
            episodes_per_second: Some(ev.sampled.episodes as f64 / secs.max(1e-9)),
        });
        let s = &ev.sampled;
        let exact_win = ev.exact.map(|t| t.rate(t.honest_wins));
        let exact_attack = ev.exact.map(|t| t.rate(t.episodes - t.honest_wins));
        let row = MetricsRow {
            run: res.name().into(),
            seed: exp.seed,
            n: spec.n,
            f: spec.f,
            rounds: spec.rounds,
            comm: spec.comm.name(),
            synchrony: spec.synchrony.name(),
            identity: spec.identity.name(),
            honest: res.protocol.name(),
            byzantine: name.clone(),
            epoch: 0,
            episodes: 0,
            eval_episodes: s.episodes,
            honest_win_rate: s.rate(s.honest_wins),
            byzantine_win_rate: s.rate(s.episodes - s.honest_wins),
            agreement_rate: s.rate(s.agreement),
            validity_rate: s.rate(s.validity),
            termination_rate: s.rate(s.termination),
            mean_decision_round: s.rate(s.decision_rounds),
            exact_honest_win_rate: exact_win,
            exact_attack_rate: exact_attack,
            optimal_attack_rate: report.as_ref().map(|r| r.optimal_attack_rate),
            verified: report.as_ref().map(|r| r.verified),
            instances: report.as_ref().map(|r| r.instances),
            broken_instances: report.as_ref().map(|r| r.broken_instances),
        };
        let cell = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
        say(format!(
            "{:<12} {:>12.4} {:>12} {:>12} {:>10}",
            name,
            row.honest_win_rate,
            cell(row.exact_honest_win_rate),
            cell(row.exact_attack_rate),
            cell(row.optimal_attack_rate)
        ));
        rows.push(row);
    }
    write_atomic(&out.join("metrics.csv"), &csv_bytes(&rows)?)?;
    write_atomic(&out.join("timing.csv"), &csv_bytes(&timing)?)?;
    say(format!("wrote {}", out.join("metrics.csv").display()));
    Ok(rows)
}
